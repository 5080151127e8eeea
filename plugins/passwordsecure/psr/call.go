package psr

import (
	"context"
	"errors"
	"net/http"
)

// call performs a WebService call in the current session. When the server
// refuses the session (401: expired, or closed on the server) it logs in
// again and repeats the call, once; a second refusal is reported.
func (c *Client) call(ctx context.Context, path string, body, out any) error {
	s, err := c.currentSession(ctx)
	if err != nil {
		return err
	}
	data, err := c.roundTrip(ctx, http.MethodPost, path, body, s)
	if isUnauthorized(err) {
		c.log.Debug("Password Secure refused the session; logging in again", "call", path)
		if s, err = c.relogin(ctx, s); err != nil {
			return err
		}
		data, err = c.roundTrip(ctx, http.MethodPost, path, body, s)
		if isUnauthorized(err) {
			c.dropSession(s)
			var e *Error
			errors.As(err, &e)
			return &Error{Kind: KindAPIKey, status: e.status, cause: err,
				Message: "Password Secure refused a session it had just opened for user " + quote(c.key.User) + " (401 on " + path + ")",
				Hint:    "the key may have been revoked, or the server needs headers this client does not send; check the key in Password Secure and the server's log"}
		}
	}
	if err != nil {
		return err
	}
	return decodeJSON(path, data, out)
}

func isUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.status == http.StatusUnauthorized
}
