package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationOwner marks an object sluice created, naming the service it belongs to.
// It is set when the object is created and is what makes an object sluice's.
const AnnotationOwner = "sluice.dev/owner"

// AnnotationAdopt marks an object its owner lets sluice adopt: sluice then changes
// only the entries it is configured to (such as one route's destinations).
const AnnotationAdopt = "sluice.dev/adopt"

// labelService is the service label sluice put on the objects it wrote before the
// owner marker existed (kubernetes.LabelService).
const labelService = "sluice.dev/service"

// Owned reports whether sluice, writing as manager, created obj for the service svc:
// obj carries the owner marker naming svc, or (an object written before the marker
// existed) carries the service label and no field manager but manager ever wrote it.
// Labels alone never make an object sluice's: anyone can add them.
func Owned(obj metav1.Object, svc, manager string) bool {
	if svc == "" {
		return false
	}
	if owner, ok := obj.GetAnnotations()[AnnotationOwner]; ok {
		return owner == svc
	}
	return obj.GetLabels()[labelService] == svc && onlyManagedBy(obj, manager)
}

// Adoptable reports whether obj's owner marked it for adoption.
func Adoptable(obj metav1.Object) bool {
	return obj.GetAnnotations()[AnnotationAdopt] == "true"
}

// onlyManagedBy reports whether manager is obj's only field manager.
func onlyManagedBy(obj metav1.Object, manager string) bool {
	mf := obj.GetManagedFields()
	if len(mf) == 0 {
		return false
	}
	for _, e := range mf {
		if e.Manager != manager {
			return false
		}
	}
	return true
}

// MarkOwned sets the owner marker naming svc on an object sluice is about to write.
func MarkOwned(obj metav1.Object, svc string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationOwner] = svc
	obj.SetAnnotations(a)
}
