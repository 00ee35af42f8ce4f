package trigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/notify"
)

// Headers of the generic webhook: the same scheme sluice's webhook notifier signs
// with, so one sluice can trigger another.
const (
	HeaderSignature = notify.HeaderSignature // "sha256=" + hex HMAC-SHA256 over timestamp "." body
	HeaderTimestamp = notify.HeaderTimestamp // Unix seconds
	HeaderDelivery  = notify.HeaderDelivery  // unique per delivery
)

// receiveWebhook checks the generic webhook's signature and keeps its JSON body.
func receiveWebhook(secret string, r Request, now time.Time) (Delivery, error) {
	id := r.Header.Get(HeaderDelivery)
	if id == "" {
		return Delivery{}, fmt.Errorf("%w: no %s header", ErrUnauthenticated, HeaderDelivery)
	}
	ts := r.Header.Get(HeaderTimestamp)
	// Verify also bounds the timestamp; checking it again below is harmless.
	if err := notify.Verify(secret, ts, r.Header.Get(HeaderSignature), r.Body, now, Tolerance); err != nil {
		if strings.Contains(err.Error(), "away from now") {
			return Delivery{}, fmt.Errorf("%w: %v", ErrStale, err)
		}
		return Delivery{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	d := Delivery{ID: id}
	if err := decode(r.Body, &d.payload); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// gitHubPackage is the part of GitHub's package event sluice reads.
type gitHubPackage struct {
	Action  string `json:"action"`
	Package struct {
		Name        string `json:"name"`
		PackageType string `json:"package_type"`
		Owner       struct {
			Login string `json:"login"`
		} `json:"owner"`
		Version struct {
			PackageURL string `json:"package_url"`
			Container  struct {
				Tag struct {
					Name   string `json:"name"`
					Digest string `json:"digest"`
				} `json:"tag"`
			} `json:"container_metadata"`
		} `json:"package_version"`
	} `json:"package"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
}

// receiveGitHub checks X-Hub-Signature-256 (HMAC-SHA256 of the body) and reads a
// published container version; pings and other events are ignored.
func receiveGitHub(secret string, r Request) (Delivery, error) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(want)) {
		return Delivery{}, fmt.Errorf("%w: X-Hub-Signature-256 does not match", ErrUnauthenticated)
	}
	d := Delivery{ID: r.Header.Get("X-GitHub-Delivery")}
	if d.ID == "" {
		return Delivery{}, fmt.Errorf("%w: no X-GitHub-Delivery header", ErrPayload)
	}
	switch ev := r.Header.Get("X-GitHub-Event"); ev {
	case "package", "registry_package":
	default:
		return d, fmt.Errorf("%w: GitHub event %q (sluice follows package events)", ErrIgnored, ev)
	}
	var p gitHubPackage
	if err := decode(r.Body, &p); err != nil {
		return Delivery{}, err
	}
	if p.Action != "published" {
		return d, fmt.Errorf("%w: package action %q (sluice follows published)", ErrIgnored, p.Action)
	}
	if t := strings.ToLower(p.Package.PackageType); t != "container" && t != "docker" {
		return d, fmt.Errorf("%w: package type %q is not a container image", ErrIgnored, p.Package.PackageType)
	}
	tag := p.Package.Version.Container.Tag.Name
	if tag == "" || p.Package.Name == "" || p.Package.Owner.Login == "" {
		return Delivery{}, fmt.Errorf("%w: the package event names no owner, package or tag", ErrPayload)
	}
	repo := "ghcr.io/" + strings.ToLower(p.Package.Owner.Login) + "/" + p.Package.Name
	d.Push = &Push{Image: repo + ":" + tag, Repository: repo, Tag: tag,
		Digest: p.Package.Version.Container.Tag.Digest, Pusher: p.Sender.Login}
	return d, nil
}

// harborEvent is the part of Harbor's webhook payload sluice reads.
type harborEvent struct {
	Type     string `json:"type"`
	OccurAt  int64  `json:"occur_at"`
	Operator string `json:"operator"`
	Data     struct {
		Resources []struct {
			Digest      string `json:"digest"`
			Tag         string `json:"tag"`
			ResourceURL string `json:"resource_url"`
		} `json:"resources"`
	} `json:"event_data"`
}

// receiveHarbor checks the Authorization header Harbor's webhook policy sends (its
// "auth header", the trigger's secret) and reads a PUSH_ARTIFACT event.
func receiveHarbor(secret string, r Request) (Delivery, error) {
	if !equal(r.Header.Get("Authorization"), secret) {
		return Delivery{}, fmt.Errorf("%w: the Authorization header is not the trigger's secret", ErrUnauthenticated)
	}
	var ev harborEvent
	if err := decode(r.Body, &ev); err != nil {
		return Delivery{}, err
	}
	d := Delivery{ID: bodyID(r.Body)}
	if ev.OccurAt > 0 {
		d.At = time.Unix(ev.OccurAt, 0)
	}
	if ev.Type != "PUSH_ARTIFACT" {
		return d, fmt.Errorf("%w: Harbor event %q (sluice follows PUSH_ARTIFACT)", ErrIgnored, ev.Type)
	}
	if len(ev.Data.Resources) == 0 || ev.Data.Resources[0].ResourceURL == "" {
		return Delivery{}, fmt.Errorf("%w: the Harbor event names no pushed artifact", ErrPayload)
	}
	res := ev.Data.Resources[0]
	repo := repoOf(res.ResourceURL)
	p := &Push{Repository: repo, Tag: res.Tag, Digest: res.Digest, Pusher: ev.Operator}
	switch {
	case res.Tag != "":
		p.Image = repo + ":" + res.Tag
	case res.Digest != "":
		p.Image = repo + "@" + res.Digest
	default:
		return Delivery{}, fmt.Errorf("%w: the Harbor event's artifact has neither tag nor digest", ErrPayload)
	}
	d.Push = p
	return d, nil
}

// PushOf describes an image reference (REPO:TAG, REPO@DIGEST or REPO:TAG@DIGEST)
// as a push of it.
func PushOf(image string) Push {
	p := Push{Image: image, Repository: repoOf(image)}
	rest := strings.TrimPrefix(image, p.Repository)
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		p.Digest, rest = rest[i+1:], rest[:i]
	}
	p.Tag = strings.TrimPrefix(rest, ":")
	return p
}

// repoOf drops the tag or digest from an image reference.
func repoOf(ref string) string {
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.IndexByte(ref, '@'); i > slash {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		ref = ref[:i]
	}
	return ref
}

// dockerHubPush is the part of Docker Hub's push webhook sluice reads.
type dockerHubPush struct {
	CallbackURL string `json:"callback_url"`
	PushData    struct {
		PushedAt int64  `json:"pushed_at"`
		Pusher   string `json:"pusher"`
		Tag      string `json:"tag"`
	} `json:"push_data"`
	Repository struct {
		RepoName string `json:"repo_name"`
	} `json:"repository"`
}

// receiveDockerHub checks the token query parameter (Docker Hub signs nothing, so the
// webhook URL itself is the secret) and reads the push; its callback URL is unique
// per push and names the delivery.
func receiveDockerHub(secret string, r Request) (Delivery, error) {
	if !equal(r.Query.Get("token"), secret) {
		return Delivery{}, fmt.Errorf("%w: the token parameter is not the trigger's secret", ErrUnauthenticated)
	}
	var p dockerHubPush
	if err := decode(r.Body, &p); err != nil {
		return Delivery{}, err
	}
	if p.Repository.RepoName == "" || p.PushData.Tag == "" {
		return Delivery{}, fmt.Errorf("%w: the Docker Hub push names no repository or tag", ErrPayload)
	}
	d := Delivery{ID: p.CallbackURL}
	if d.ID == "" {
		d.ID = bodyID(r.Body)
	}
	if p.PushData.PushedAt > 0 {
		d.At = time.Unix(p.PushData.PushedAt, 0)
	}
	repo := "docker.io/" + p.Repository.RepoName
	d.Push = &Push{Image: repo + ":" + p.PushData.Tag, Repository: repo, Tag: p.PushData.Tag, Pusher: p.PushData.Pusher}
	return d, nil
}
