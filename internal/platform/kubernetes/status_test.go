package kubernetes

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodReasons(t *testing.T) {
	waiting := func(reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	tests := []struct {
		name string
		pod  corev1.PodStatus
		want []string
	}{
		{"creating", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating", "")}}, nil},
		{"image pull", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("ErrImagePull", `pull "x:1": not found`)}},
			[]string{`container app: ErrImagePull: pull "x:1": not found`}},
		{"crash loop", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff", "back-off 40s restarting failed container")}},
			[]string{"container app: CrashLoopBackOff: back-off 40s restarting failed container"}},
		{"unschedulable", corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient cpu."}}},
			[]string{"Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."}},
		{"exited", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2, Message: "bad flag"}}}}},
			[]string{"container app: Error (exit code 2): bad flag"}},
		{"restarted, running again", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 3,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}},
			[]string{"container app restarted 3 times, last OOMKilled (exit code 137)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := podReasons(&corev1.Pod{Status: tc.pod})
			if !slices.Equal(got, tc.want) {
				t.Errorf("podReasons = %q, want %q", got, tc.want)
			}
		})
	}
}
