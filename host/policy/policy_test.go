package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/byov/byov/config"
)

const testConfig = `
connection_profile "default" { max_session_duration = "2h" }
connection_profile "short" { max_session_duration = "15m" }
resource "srv01" {
  platform = "windows"
  domain   = "CORP"
}
resource "srv02" {
  platform = "windows"
  domain   = "CORP"
}
resource "db01" { platform = "linux" }
user "alice" { groups = ["domain-admins"] }
user "bob" { groups = ["helpdesk"] }
user "carol" {}
user "dave" {}
activity "domain-admin" {
  platform      = "windows"
  login_account = "requester"
}
activity "rdp" {
  platform      = "windows"
  login_account = "requester"
}
activity "db-login" {
  platform      = "linux"
  login_account = "requester"
}
access_policy "admins" {
  connection_profile = connection_profile.default
  users              = ["group:domain-admins"]
  activities         = [activity.domain-admin]
  resources          = [resource.srv01]
}
access_policy "helpdesk" {
  connection_profile = connection_profile.short
  users              = ["group:helpdesk", "carol"]
  activities         = [activity.rdp]
  resources          = [resource.srv01, resource.srv02]
}
access_policy "admins-rdp" {
  connection_profile = connection_profile.short
  users              = ["alice"]
  activities         = [activity.rdp]
  resources          = [resource.srv01, resource.srv02]
}
access_policy "dba" {
  connection_profile = connection_profile.default
  users              = ["group:dba"]
  activities         = [activity.db-login]
  resources          = [resource.db01]
}
`

func loadConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, diags := config.Load([]byte(testConfig), "byov.hcl", config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg
}

func TestEvaluate(t *testing.T) {
	cfg := loadConfig(t)
	tests := []struct {
		name      string
		req       Request
		policy    string // when allowed
		profile   string
		unmatched []Part
		message   string // when denied
	}{
		{name: "group from the config", req: Request{User: "alice", Activity: "domain-admin", Resource: "srv01"},
			policy: "admins", profile: "default"},
		{name: "user entry", req: Request{User: "carol", Activity: "rdp", Resource: "srv02"},
			policy: "helpdesk", profile: "short"},
		{name: "first policy in file order wins", req: Request{User: "alice", Groups: []string{"helpdesk", "domain-admins"}, Activity: "rdp", Resource: "srv01"},
			policy: "helpdesk", profile: "short"},
		{name: "user's own entry when no group matches", req: Request{User: "alice", Activity: "rdp", Resource: "srv02"},
			policy: "admins-rdp", profile: "short"},
		{name: "group from the request", req: Request{User: "dave", Groups: []string{"dba"}, Activity: "db-login", Resource: "db01"},
			policy: "dba", profile: "default"},
		{name: "group from the request for a user without a block", req: Request{User: "erin", Groups: []string{"domain-admins"}, Activity: "domain-admin", Resource: "srv01"},
			policy: "admins", profile: "default"},

		{name: "resource not allowed", req: Request{User: "alice", Activity: "domain-admin", Resource: "srv02"},
			unmatched: []Part{PartResource},
			message:   "no access policy lets alice run activity domain-admin on resource srv02: policies that allow domain-admin for you do not include srv02"},
		{name: "activity not allowed", req: Request{User: "bob", Activity: "domain-admin", Resource: "srv01"},
			unmatched: []Part{PartActivity},
			message:   "no access policy lets bob run activity domain-admin on resource srv01: policies that apply to you for resource srv01 do not include activity domain-admin"},
		{name: "neither activity nor resource", req: Request{User: "bob", Activity: "db-login", Resource: "db01"},
			unmatched: []Part{PartActivity, PartResource},
			message:   "no access policy lets bob run activity db-login on resource db01: policies that apply to you include neither activity db-login nor resource db01"},
		{name: "user in no policy", req: Request{User: "dave", Activity: "rdp", Resource: "srv01"},
			unmatched: []Part{PartUser},
			message:   "no access policy lets dave run activity rdp on resource srv01: no policy names you or a group you are in"},
		{name: "group entry is not a user name", req: Request{User: "domain-admins", Activity: "domain-admin", Resource: "srv01"},
			unmatched: []Part{PartUser}, message: "no policy names you"},
		{name: "user name is not a group", req: Request{User: "dave", Groups: []string{"carol"}, Activity: "rdp", Resource: "srv01"},
			unmatched: []Part{PartUser}, message: "no policy names you"},
		{name: "unknown activity", req: Request{User: "alice", Activity: "reboot", Resource: "srv01"},
			unmatched: []Part{PartActivity}, message: `there is no activity named "reboot"`},
		{name: "unknown resource", req: Request{User: "alice", Activity: "rdp", Resource: "srv03"},
			unmatched: []Part{PartResource}, message: `there is no resource named "srv03"`},
		{name: "no user", req: Request{Activity: "rdp", Resource: "srv01"},
			unmatched: []Part{PartUser}, message: `lets "" run activity rdp on resource srv01: the request names no user`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grant, err := Evaluate(cfg, tt.req)
			if tt.policy != "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				if grant.Requester.Name != tt.req.User || len(grant.Requester.Groups) < len(tt.req.Groups) {
					t.Errorf("requester %+v", grant.Requester)
				}
				if grant.Policy.Name != tt.policy || grant.Profile.Name != tt.profile ||
					grant.Activity.Name != tt.req.Activity || grant.Resource.Name != tt.req.Resource {
					t.Errorf("granted by %s with %s, want %s with %s", grant.Policy.Name, grant.Profile.Name, tt.policy, tt.profile)
				}
				return
			}
			var denial *Denial
			if !errors.As(err, &denial) || grant != nil {
				t.Fatalf("got %v, %v; want a denial", grant, err)
			}
			if !slices.Equal(denial.Unmatched, tt.unmatched) {
				t.Errorf("unmatched %v, want %v", denial.Unmatched, tt.unmatched)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q, want it to contain %q", err.Error(), tt.message)
			}
			// A denial speaks of the request, never of policies by name.
			for _, p := range cfg.AccessPolicies {
				if strings.Contains(err.Error(), p.Name) && !strings.Contains(tt.req.Activity+tt.req.Resource+tt.req.User, p.Name) {
					t.Errorf("message names policy %s: %q", p.Name, err.Error())
				}
			}
		})
	}
}

func TestDenyByDefault(t *testing.T) {
	if _, err := Evaluate(nil, Request{User: "alice", Activity: "rdp", Resource: "srv01"}); err == nil {
		t.Error("a nil config allowed a request")
	}
	cfg, diags := config.Load([]byte(`
resource "srv01" { platform = "windows" }
user "alice" {}
activity "rdp" {
  platform      = "windows"
  login_account = "requester"
}
`), "byov.hcl", config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := Evaluate(cfg, Request{User: "alice", Activity: "rdp", Resource: "srv01"})
	var denial *Denial
	if !errors.As(err, &denial) || !slices.Equal(denial.Unmatched, []Part{PartUser}) {
		t.Errorf("without policies: %v", err)
	}

	// A hand-built config with a dangling profile is denied, not guessed at.
	cfg.AccessPolicies = append(cfg.AccessPolicies, &config.AccessPolicy{Name: "p", ConnectionProfile: "gone",
		Users: []string{"alice"}, Activities: []string{"rdp"}, Resources: []string{"srv01"}})
	if _, err := Evaluate(cfg, Request{User: "alice", Activity: "rdp", Resource: "srv01"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("dangling profile: %v", err)
	}
}
