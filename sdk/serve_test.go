package sdk

import "testing"

func TestValidType(t *testing.T) {
	for s, want := range map[string]bool{
		"passwordsecure": true, "acme-vault2": true, "a": true,
		"": false, "2fa": false, "-x": false, "Acme": false, "acme_vault": false, "acme vault": false, "acme\n": false,
	} {
		if got := ValidType(s); got != want {
			t.Errorf("ValidType(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidateMetadata(t *testing.T) {
	ok := Metadata{Type: "acme", Version: "1.2.0-rc.1+build.5", Capabilities: []Capability{CapabilityCheckin}}
	if err := ValidateMetadata(ok); err != nil {
		t.Fatalf("ValidateMetadata(%+v) = %v", ok, err)
	}
	for name, m := range map[string]Metadata{
		"type":       {Type: "Acme", Version: "1.0.0"},
		"version":    {Type: "acme", Version: "1.0"},
		"leading v":  {Type: "acme", Version: "v1.0.0"},
		"capability": {Type: "acme", Version: "1.0.0", Capabilities: []Capability{"teleport"}},
		"schema":     {Type: "acme", Version: "1.0.0", ConfigSchema: []Attribute{{Name: "Bad", Type: TypeString}}},
	} {
		if err := ValidateMetadata(m); err == nil {
			t.Errorf("%s: ValidateMetadata(%+v) accepted it", name, m)
		}
	}
}
