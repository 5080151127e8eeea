// Package policy decides whether a user may run an activity on a resource,
// from the access policies of the configuration. Nothing is allowed unless a
// policy names the user (or a group of theirs), the activity and the
// resource. A denial says which of the three did not match for this request,
// so that a user knows whom to ask for what, without describing policies
// that do not apply to them.
//
// Evaluate is a pure function of the configuration and the request; the
// caller audits the result.
package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/byov/byov/config"
)

// Request is what a user asks for.
type Request struct {
	User string
	// Groups are groups the caller knows of from elsewhere (an identity
	// provider); the groups of the user's block in the configuration are
	// added to them.
	Groups   []string
	Activity string
	Resource string
}

// Grant is an allowed request, with what the session needs from the
// configuration.
type Grant struct {
	// Policy is the first policy, in file order, that allows the request.
	Policy   *config.AccessPolicy
	Profile  *config.ConnectionProfile
	Activity *config.Activity
	Resource *config.Resource
	// Requester carries the user's groups from the request and from the
	// configuration, as the activity's account template sees them:
	// Grant.Activity.Account(Grant.Requester, Grant.Resource).
	Requester config.Requester
}

// Part names a part of a request that no policy matched.
type Part string

const (
	PartUser     Part = "user"
	PartActivity Part = "activity"
	PartResource Part = "resource"
)

// Denial is the error Evaluate returns when no policy allows a request.
type Denial struct {
	Request Request
	// Unmatched lists what did not match, in the order user, activity,
	// resource: the user when no policy names them; otherwise the activity,
	// the resource or both, among the policies that do name them.
	Unmatched []Part
	// Reason is the part of the message after the colon, for the audit.
	Reason string
}

func (d *Denial) Error() string {
	return fmt.Sprintf("no access policy lets %s run activity %s on resource %s: %s",
		orNone(d.Request.User), orNone(d.Request.Activity), orNone(d.Request.Resource), d.Reason)
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Evaluate returns the grant for req, or a *Denial.
func Evaluate(cfg *config.Config, req Request) (*Grant, error) {
	deny := func(reason string, unmatched ...Part) (*Grant, error) {
		return nil, &Denial{Request: req, Unmatched: unmatched, Reason: reason}
	}
	if cfg == nil {
		return deny("there is no configuration")
	}
	if req.User == "" {
		return deny("the request names no user", PartUser)
	}
	activity, ok := cfg.Activities[req.Activity]
	if !ok {
		return deny(fmt.Sprintf("there is no activity named %q", req.Activity), PartActivity)
	}
	resource, ok := cfg.Resources[req.Resource]
	if !ok {
		return deny(fmt.Sprintf("there is no resource named %q", req.Resource), PartResource)
	}

	groups := slices.Clone(req.Groups)
	if u, ok := cfg.Users[req.User]; ok {
		for _, g := range u.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}

	// Count, among the policies that name the user, those that would match
	// the activity and those that would match the resource: that is what a
	// denial may tell this user, and nothing about other policies.
	var forUser, withActivity, withResource int
	for _, p := range cfg.AccessPolicies {
		if !namesUser(p, req.User, groups) {
			continue
		}
		forUser++
		hasActivity := slices.Contains(p.Activities, req.Activity)
		hasResource := slices.Contains(p.Resources, req.Resource)
		if hasActivity {
			withActivity++
		}
		if hasResource {
			withResource++
		}
		if !hasActivity || !hasResource {
			continue
		}
		profile, ok := cfg.ConnectionProfiles[p.ConnectionProfile]
		if !ok {
			// The loader refuses such a config; deny rather than guess a
			// profile if one is built by hand.
			return deny(fmt.Sprintf("access policy %s names connection profile %q, which does not exist", p.Name, p.ConnectionProfile))
		}
		return &Grant{Policy: p, Profile: profile, Activity: activity, Resource: resource,
			Requester: config.Requester{Name: req.User, Groups: groups}}, nil
	}

	switch {
	case forUser == 0:
		return deny("no policy names you or a group you are in", PartUser)
	case withActivity == 0 && withResource == 0:
		return deny(fmt.Sprintf("policies that apply to you include neither activity %s nor resource %s", req.Activity, req.Resource), PartActivity, PartResource)
	case withActivity == 0:
		return deny(fmt.Sprintf("policies that apply to you for resource %s do not include activity %s", req.Resource, req.Activity), PartActivity)
	default:
		// Some policies allow the activity and others the resource, never both
		// together; the activity is what the user asked to do, so say where.
		return deny(fmt.Sprintf("policies that allow %s for you do not include %s", req.Activity, req.Resource), PartResource)
	}
}

func namesUser(p *config.AccessPolicy, user string, groups []string) bool {
	for _, entry := range p.Users {
		if g, isGroup := strings.CutPrefix(entry, config.GroupPrefix); isGroup {
			if slices.Contains(groups, g) {
				return true
			}
		} else if entry == user {
			return true
		}
	}
	return false
}
