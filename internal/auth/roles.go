package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a level of trust in an environment; each role includes the ones below it.
type Role string

// Roles, from least to most trusted.
const (
	RoleViewer   Role = "viewer"   // reads definitions, executions, consoles and services
	RoleDeployer Role = "deployer" // runs, rolls back, aborts, pauses, resumes and retries
	RoleApprover Role = "approver" // approves and rejects
	RoleAdmin    Role = "admin"    // manages definitions, tokens and roles
)

// AllEnvironments in a grant means every environment.
const AllEnvironments = "*"

// Roles lists the roles from least to most trusted.
var Roles = []Role{RoleViewer, RoleDeployer, RoleApprover, RoleAdmin}

// rank orders roles; an unknown role ranks below viewer.
func (r Role) rank() int { return slices.Index(Roles, r) }

// Includes reports whether a holder of r may do what needs role need.
func (r Role) Includes(need Role) bool { return r.rank() >= 0 && r.rank() >= need.rank() }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() < 0 {
		return "", fmt.Errorf("unknown role %q: want viewer, deployer, approver or admin: %w", s, ErrInvalid)
	}
	return r, nil
}

// Grant gives a subject a role in an environment ("*" for all). A subject is a user
// name or "group:<name>", as in approval steps.
type Grant struct {
	Subject     string
	Role        Role
	Environment string
	CreatedAt   time.Time
	CreatedBy   string
}

// GroupPrefix marks a subject that names a group.
const GroupPrefix = "group:"

// Subjects returns the subjects an identity acts as: its user and each of its groups.
func (id Identity) Subjects() []string {
	out := []string{id.User}
	for _, g := range id.Groups {
		out = append(out, GroupPrefix+g)
	}
	return out
}

// RoleIn returns the strongest role grants give id in environment env ("" when none).
// A grant for "*" applies to every environment; asking about "*" needs a "*" grant.
func RoleIn(grants []Grant, id Identity, env string) Role {
	subjects := id.Subjects()
	var best Role
	for _, g := range grants {
		if g.Environment != AllEnvironments && g.Environment != env {
			continue
		}
		if !slices.Contains(subjects, g.Subject) {
			continue
		}
		if g.Role.rank() > best.rank() {
			best = g.Role
		}
	}
	return best
}

// ForbiddenError says the caller lacks the role an action needs.
type ForbiddenError struct {
	User        string
	Need        Role
	Environment string
	Action      string
}

func (e *ForbiddenError) Error() string {
	where := "environment " + e.Environment
	if e.Environment == AllEnvironments {
		where = "all environments (*)"
	}
	return fmt.Sprintf("%s needs role %s in %s; %s does not have it", e.Action, e.Need, where, e.User)
}

// checkSubject validates the subject of a grant.
func checkSubject(s string) error {
	switch {
	case strings.TrimSpace(s) == "" || s != strings.TrimSpace(s):
		return fmt.Errorf("subject %q: want a user name or group:<name>: %w", s, ErrInvalid)
	case s == GroupPrefix:
		return fmt.Errorf("subject %q: the group has no name: %w", s, ErrInvalid)
	case strings.ContainsAny(s, ", \t\n"):
		return fmt.Errorf("subject %q: no commas or spaces: %w", s, ErrInvalid)
	}
	return nil
}

// CheckGrant validates a grant's subject, role and environment.
func CheckGrant(g Grant) error {
	if err := checkSubject(g.Subject); err != nil {
		return err
	}
	if _, err := ParseRole(string(g.Role)); err != nil {
		return err
	}
	if strings.TrimSpace(g.Environment) == "" {
		return fmt.Errorf("grant to %s: an environment (or * for all) is required: %w", g.Subject, ErrInvalid)
	}
	return nil
}
