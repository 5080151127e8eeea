package sdk

import (
	"encoding/json"
	"time"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// This file converts between the plain Go types of the SDK surface and the
// generated protocol types, in both directions.

func metadataToProto(m Metadata) (*connectorv1.Metadata, error) {
	out := &connectorv1.Metadata{
		Type:        m.Type,
		Version:     m.Version,
		Protocol:    ProtocolVersion,
		Description: m.Description,
		SdkVersion:  Version,
	}
	for _, a := range m.ConfigSchema {
		pa := &connectorv1.Attribute{
			Name: a.Name, Type: string(a.Type), Required: a.Required,
			Sensitive: a.Sensitive, Description: a.Description,
		}
		if a.Default != nil {
			b, err := json.Marshal(a.Default)
			if err != nil {
				return nil, err
			}
			pa.DefaultJson = string(b)
		}
		out.ConfigSchema = append(out.ConfigSchema, pa)
	}
	for _, c := range m.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	return out, nil
}

func metadataFromProto(p *connectorv1.Metadata) (Metadata, error) {
	m := Metadata{Type: p.GetType(), Version: p.GetVersion(), Description: p.GetDescription()}
	for _, pa := range p.GetConfigSchema() {
		a := Attribute{
			Name: pa.GetName(), Type: AttributeType(pa.GetType()), Required: pa.GetRequired(),
			Sensitive: pa.GetSensitive(), Description: pa.GetDescription(),
		}
		if pa.GetDefaultJson() != "" {
			if err := json.Unmarshal([]byte(pa.GetDefaultJson()), &a.Default); err != nil {
				return Metadata{}, err
			}
		}
		m.ConfigSchema = append(m.ConfigSchema, a)
	}
	for _, c := range p.GetCapabilities() {
		m.Capabilities = append(m.Capabilities, Capability(c))
	}
	return m, nil
}

func accountToProto(a Account) *connectorv1.Account {
	return &connectorv1.Account{Domain: a.Domain, Username: a.Username}
}

func accountFromProto(p *connectorv1.Account) Account {
	return Account{Domain: p.GetDomain(), Username: p.GetUsername()}
}

func sessionToProto(s SessionContext) *connectorv1.SessionContext {
	return &connectorv1.SessionContext{SessionId: s.SessionID, Requester: s.Requester, Resource: s.Resource, Activity: s.Activity}
}

func sessionFromProto(p *connectorv1.SessionContext) SessionContext {
	return SessionContext{SessionID: p.GetSessionId(), Requester: p.GetRequester(), Resource: p.GetResource(), Activity: p.GetActivity()}
}

func checkoutRequestFromProto(p *connectorv1.CheckoutRequest) CheckoutRequest {
	return CheckoutRequest{
		Account: accountFromProto(p.GetAccount()),
		Options: p.GetOptions(),
		Session: sessionFromProto(p.GetSession()),
		Reason:  p.GetReason(),
	}
}

func credentialToProto(c *Credential) *connectorv1.Credential {
	out := &connectorv1.Credential{
		Username: c.Username,
		Secret:   c.Secret.Reveal(),
		LeaseId:  c.LeaseID,
		Metadata: c.Metadata,
	}
	if !c.ExpiresAt.IsZero() {
		out.ExpiresUnix = c.ExpiresAt.Unix()
	}
	return out
}

func credentialFromProto(p *connectorv1.Credential) *Credential {
	c := &Credential{
		Username: p.GetUsername(),
		Secret:   Secret(p.GetSecret()),
		LeaseID:  p.GetLeaseId(),
		Metadata: p.GetMetadata(),
	}
	if p.GetExpiresUnix() != 0 {
		c.ExpiresAt = time.Unix(p.GetExpiresUnix(), 0)
	}
	return c
}

func findingsToProto(fs []Finding) []*connectorv1.Finding {
	out := make([]*connectorv1.Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, &connectorv1.Finding{Step: f.Step, Ok: f.OK, Message: f.Message, Hint: f.Hint})
	}
	return out
}

func findingsFromProto(ps []*connectorv1.Finding) []Finding {
	out := make([]Finding, 0, len(ps))
	for _, p := range ps {
		out = append(out, Finding{Step: p.GetStep(), OK: p.GetOk(), Message: p.GetMessage(), Hint: p.GetHint()})
	}
	return out
}

func accountInfosToProto(infos []AccountInfo) []*connectorv1.AccountInfo {
	out := make([]*connectorv1.AccountInfo, 0, len(infos))
	for _, i := range infos {
		pi := &connectorv1.AccountInfo{
			Account: accountToProto(i.Account), Description: i.Description, Tags: i.Tags, Version: i.Version,
		}
		if !i.UpdatedAt.IsZero() {
			pi.UpdatedUnix = i.UpdatedAt.Unix()
		}
		out = append(out, pi)
	}
	return out
}

func accountInfosFromProto(ps []*connectorv1.AccountInfo) []AccountInfo {
	out := make([]AccountInfo, 0, len(ps))
	for _, p := range ps {
		i := AccountInfo{
			Account: accountFromProto(p.GetAccount()), Description: p.GetDescription(), Tags: p.GetTags(), Version: p.GetVersion(),
		}
		if p.GetUpdatedUnix() != 0 {
			i.UpdatedAt = time.Unix(p.GetUpdatedUnix(), 0)
		}
		out = append(out, i)
	}
	return out
}
