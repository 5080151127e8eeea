package psr

import (
	"net"
	"net/url"
	"strings"
)

// NormalizeBaseURL turns an operator's api_url into the base every call is
// appended to (§1.1): a scheme (https when absent), a host, any port and
// path, and exactly one trailing slash. A query or fragment is refused
// because {base}{Area}/{Method} would put the method inside it.
func NormalizeBaseURL(raw string) (*url.URL, error) {
	const hint = `write api_url like "https://ps.example.com/api" (port and path as your server has them)`
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, newError(KindConfig, nil, hint, "api_url is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, newError(KindConfig, err, hint, "api_url %q is not a URL: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, newError(KindConfig, nil, hint, "api_url %q has scheme %q; Password Secure speaks https", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, newError(KindConfig, nil, hint, "api_url %q has no host name", raw)
	}
	if u.User != nil {
		return nil, newError(KindConfig, nil, "the API key is the service account's secret; remove the credentials from api_url", "api_url must not carry a user name or password")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, newError(KindConfig, nil, hint, "api_url %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/"
	u.RawPath = ""
	return u, nil
}

// hostPort returns the host and port the client dials for u, with the
// scheme's default port filled in, for error messages and Check.
func hostPort(u *url.URL) (host, port string) {
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return host, port
}

func joinHostPort(u *url.URL) string { return net.JoinHostPort(hostPort(u)) }
