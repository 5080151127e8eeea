package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/byov/byov/host/api"
	"github.com/byov/byov/host/api/client"
	"github.com/byov/byov/host/audit"
	"github.com/byov/byov/host/sessions"
)

func init() {
	register("session start", "Start a session: -activity A -resource R [-reason TEXT]", cmdSessionStart)
	register("session list", "List sessions (yours; all for administrators)", cmdSessionList)
	register("session show", "Show one session", cmdSessionShow)
	register("session credential", "Show a session's credential while it is available", cmdSessionCredential)
	register("session end", "End a session (and check its credential back in)", cmdSessionEnd)
	register("connector list", "List the configured connectors", cmdConnectorList)
	register("connector check", "Check a connector step by step: NAME [-account DOMAIN\\user]", cmdConnectorCheck)
	register("plugin list", "List connector plugins: version, protocol, sha256, state, pid, restarts", cmdPluginList)
	register("plugin reload", "Swap a connector plugin for the newest allowed (or -version) binary", cmdPluginReload)
	register("vault put", "Store a password in a builtin vault: DOMAIN\\user (password from stdin or a prompt)", cmdVaultPut)
	register("vault list", "List the accounts of a builtin vault (never passwords)", cmdVaultList)
	register("vault delete", "Delete an account from a builtin vault: DOMAIN\\user", cmdVaultDelete)
	register("token create", "Create an API token: -name N -user U [-role user|admin] [-ttl 720h]", cmdTokenCreate)
	register("token list", "List API tokens (never the tokens themselves)", cmdTokenList)
	register("token revoke", "Revoke an API token: ID", cmdTokenRevoke)
	register("audit list", "List audit records [-session ID] [-type T] [-since 1h]", cmdAuditList)
	register("audit verify", "Verify the audit hash chain; exits 1 when a record was edited or deleted", cmdAuditVerify)
}

// clientFlags are the options every client command shares.
type clientFlags struct {
	addr, token, caCert, format string
	skipVerify                  bool
	timeout                     time.Duration
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	cf := &clientFlags{}
	fs.StringVar(&cf.addr, "address", os.Getenv("BYOV_ADDR"), "the host's API: http://, https:// or unix:// (BYOV_ADDR)")
	fs.StringVar(&cf.caCert, "ca-cert", os.Getenv("BYOV_CACERT"), "a PEM file of CAs to trust for https (BYOV_CACERT)")
	fs.BoolVar(&cf.skipVerify, "tls-skip-verify", os.Getenv("BYOV_SKIP_VERIFY") == "true", "do not verify the host's certificate (BYOV_SKIP_VERIFY=true)")
	fs.StringVar(&cf.format, "format", "table", "output format: table or json")
	fs.DurationVar(&cf.timeout, "timeout", 60*time.Second, "how long to wait for the host")
	cf.token = os.Getenv("BYOV_TOKEN")
	return cf
}

func (cf *clientFlags) client() (*client.Client, context.Context, context.CancelFunc, error) {
	if cf.format != "table" && cf.format != "json" {
		return nil, nil, nil, fmt.Errorf("-format must be table or json, not %q", cf.format)
	}
	if cf.addr == "" {
		return nil, nil, nil, errors.New("no host address: set BYOV_ADDR (e.g. http://127.0.0.1:8200) or pass -address")
	}
	if cf.token == "" {
		return nil, nil, nil, errors.New("no token: set BYOV_TOKEN (the root token is in data_dir/root-token after the first start; `byov dev` prints one)")
	}
	opts := []client.Option{client.WithTimeout(cf.timeout)}
	if cf.caCert != "" {
		opts = append(opts, client.WithCACert(cf.caCert))
	}
	if cf.skipVerify {
		opts = append(opts, client.WithSkipVerify(true))
	}
	c, err := client.New(cf.addr, cf.token, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	return c, ctx, cancel, nil
}

// output writes v as JSON, or calls table to print it for people.
func (cf *clientFlags) output(v any, table func(w io.Writer)) error {
	if cf.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// setup parses the flags of a client command that takes want positional
// arguments (-1: any number) and returns a ready client.
func setup(name, usage string, args []string, want int, extra func(fs *flag.FlagSet)) (*clientFlags, []string, *client.Client, context.Context, context.CancelFunc, error) {
	fs := newFlags(name, usage)
	cf := addClientFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return nil, nil, nil, nil, nil, err
	}
	if want >= 0 && fs.NArg() != want {
		fs.Usage()
		return nil, nil, nil, nil, nil, exitError(2)
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	return cf, fs.Args(), c, ctx, cancel, nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printSession(w io.Writer, s sessions.Session) {
	fmt.Fprintf(w, "ID\t%s\n", s.ID)
	fmt.Fprintf(w, "State\t%s\n", s.State)
	fmt.Fprintf(w, "Requester\t%s\n", s.Requester)
	fmt.Fprintf(w, "Activity\t%s\n", s.Activity)
	fmt.Fprintf(w, "Resource\t%s\n", s.Resource)
	fmt.Fprintf(w, "Account\t%s\n", dash(s.Account))
	fmt.Fprintf(w, "Connector\t%s\n", dash(s.Connector))
	fmt.Fprintf(w, "Reason\t%s\n", dash(s.Reason))
	fmt.Fprintf(w, "Created\t%s\n", ts(s.CreatedAt))
	fmt.Fprintf(w, "Expires\t%s\n", ts(s.ExpiresAt))
	if !s.EndedAt.IsZero() {
		fmt.Fprintf(w, "Ended\t%s by %s\n", ts(s.EndedAt), dash(s.EndedBy))
	}
	if s.Error != nil {
		fmt.Fprintf(w, "Error\t%s: %s\n", s.Error.Code, s.Error.Message)
		if s.Error.Hint != "" {
			fmt.Fprintf(w, "Hint\t%s\n", s.Error.Hint)
		}
	}
	if s.CheckinError != "" {
		fmt.Fprintf(w, "Checkin error\t%s\n", s.CheckinError)
	}
}

func cmdSessionStart(args []string) error {
	var activity, resource, reason string
	cf, _, c, ctx, cancel, err := setup("session start", "session start -activity A -resource R [-reason TEXT]", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&activity, "activity", "", "the activity to run (required)")
		fs.StringVar(&resource, "resource", "", "the resource to run it on (required)")
		fs.StringVar(&reason, "reason", "", "why; recorded in the audit and sent to the vault")
	})
	if err != nil {
		return err
	}
	defer cancel()
	if activity == "" || resource == "" {
		return errors.New("say what and where: -activity and -resource are required")
	}
	s, err := c.StartSession(ctx, api.StartSessionRequest{Activity: activity, Resource: resource, Reason: reason})
	if err != nil {
		if s.ID != "" {
			_ = cf.output(s, func(w io.Writer) { printSession(w, s) })
		}
		return err
	}
	return cf.output(s, func(w io.Writer) { printSession(w, s) })
}

func cmdSessionList(args []string) error {
	var user, state string
	cf, _, c, ctx, cancel, err := setup("session list", "session list [-user NAME] [-state STATE]", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "another user's sessions (administrators)")
		fs.StringVar(&state, "state", "", "only this state, or \"active\"")
	})
	if err != nil {
		return err
	}
	defer cancel()
	f := client.SessionFilter{User: user}
	if state != "" {
		f.States = []string{state}
	}
	list, err := c.ListSessions(ctx, f)
	if err != nil {
		return err
	}
	return cf.output(list, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tSTATE\tREQUESTER\tACTIVITY\tRESOURCE\tACCOUNT\tEXPIRES")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Requester, s.Activity, s.Resource, dash(s.Account), ts(s.ExpiresAt))
		}
	})
}

func cmdSessionShow(args []string) error {
	cf, rest, c, ctx, cancel, err := setup("session show", "session show ID", args, 1, nil)
	if err != nil {
		return err
	}
	defer cancel()
	s, err := c.Session(ctx, rest[0])
	if err != nil {
		return err
	}
	return cf.output(s, func(w io.Writer) { printSession(w, s) })
}

func cmdSessionCredential(args []string) error {
	cf, rest, c, ctx, cancel, err := setup("session credential", "session credential ID", args, 1, nil)
	if err != nil {
		return err
	}
	defer cancel()
	cred, err := c.Credential(ctx, rest[0])
	if err != nil {
		return err
	}
	return cf.output(cred, func(w io.Writer) {
		fmt.Fprintf(w, "Username\t%s\n", cred.Username)
		fmt.Fprintf(w, "Password\t%s\n", cred.Password)
		fmt.Fprintf(w, "Valid until\t%s\n", ts(cred.ExpiresAt))
	})
}

func cmdSessionEnd(args []string) error {
	var reason string
	cf, rest, c, ctx, cancel, err := setup("session end", "session end [-reason TEXT] ID", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why it ends early")
	})
	if err != nil {
		return err
	}
	defer cancel()
	s, err := c.EndSession(ctx, rest[0], reason)
	if err != nil {
		return err
	}
	return cf.output(s, func(w io.Writer) { printSession(w, s) })
}

func cmdConnectorList(args []string) error {
	cf, _, c, ctx, cancel, err := setup("connector list", "connector list", args, 0, nil)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.Connectors(ctx)
	if err != nil {
		return err
	}
	return cf.output(list, func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tPLUGIN\tCAPABILITIES\tDESCRIPTION")
		for _, ci := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ci.Name, ci.Plugin, dash(strings.Join(ci.Capabilities, ",")), ci.Description)
		}
	})
}

func cmdConnectorCheck(args []string) error {
	var account string
	cf, rest, c, ctx, cancel, err := setup("connector check", "connector check [-account DOMAIN\\\\user] NAME", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "also try a lookup of this account")
	})
	if err != nil {
		return err
	}
	defer cancel()
	res, err := c.CheckConnector(ctx, rest[0], account)
	if err != nil {
		return err
	}
	if err := cf.output(res, func(w io.Writer) {
		fmt.Fprintln(w, "STEP\tOK\tMESSAGE")
		for _, f := range res.Findings {
			ok := "ok"
			if !f.OK {
				ok = "FAILED"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", f.Step, ok, f.Message)
			if f.Hint != "" {
				fmt.Fprintf(w, "\t\thint: %s\n", f.Hint)
			}
		}
	}); err != nil {
		return err
	}
	if !res.OK {
		return exitError(1)
	}
	return nil
}

func cmdPluginList(args []string) error {
	cf, _, c, ctx, cancel, err := setup("plugin list", "plugin list", args, 0, nil)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.Plugins(ctx)
	if err != nil {
		return err
	}
	return cf.output(list, func(w io.Writer) {
		fmt.Fprintln(w, "TYPE\tVERSION\tPROTOCOL\tSHA256\tSTATE\tPID\tRESTARTS\tPATH")
		for _, p := range list {
			sum := p.SHA256
			if len(sum) > 16 {
				sum = sum[:16] + "…"
			}
			pid := "-"
			if p.PID != 0 {
				pid = fmt.Sprint(p.PID)
			}
			proto := "-"
			if p.Protocol != 0 {
				proto = fmt.Sprint(p.Protocol)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", p.Type, dash(p.Version), proto, dash(sum), p.State, pid, p.Restarts, dash(p.Path))
			if p.LastError != "" {
				fmt.Fprintf(w, "\t\t\t\tlast error: %s\n", p.LastError)
			}
		}
	})
}

func cmdPluginReload(args []string) error {
	var version string
	cf, rest, c, ctx, cancel, err := setup("plugin reload", "plugin reload [-version V] TYPE", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&version, "version", "", "run exactly this version (e.g. to roll back); default: the newest the constraint allows")
	})
	if err != nil {
		return err
	}
	defer cancel()
	st, err := c.ReloadPlugin(ctx, rest[0], version)
	if err != nil {
		return err
	}
	return cf.output(st, func(w io.Writer) {
		fmt.Fprintf(w, "Connector plugin %s now runs version %s (pid %d, sha256 %s).\n", st.Type, st.Version, st.PID, st.SHA256)
	})
}

// readPassword takes the password from stdin when it is not a terminal, else
// from a prompt that does not echo: never from the command line, where
// other users and the shell history would see it.
func readPassword(account string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("no password on stdin; pipe it in, or run in a terminal to be prompted")
		}
		return pw, nil
	}
	fmt.Fprintf(stderr, "Password for %s: ", account)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ; nothing was stored")
	}
	if len(first) == 0 {
		return "", errors.New("an empty password; nothing was stored")
	}
	return string(first), nil
}

func cmdVaultPut(args []string) error {
	var connector, description string
	cf, rest, c, _, cancelSetup, err := setup("vault put", "vault put [-connector NAME] [-description TEXT] DOMAIN\\\\user", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&connector, "connector", "vault", "the builtin connector block's name")
		fs.StringVar(&description, "description", "", "a note kept with the account")
	})
	if err != nil {
		return err
	}
	cancelSetup() // the request's time starts after the prompt, however long that takes
	pw, err := readPassword(rest[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	defer cancel()
	res, err := c.PutAccount(ctx, connector, api.PutAccountRequest{Account: rest[0], Password: pw, Description: description})
	if err != nil {
		return err
	}
	return cf.output(res, func(w io.Writer) {
		fmt.Fprintf(w, "Stored version %d of %s in %s.\n", res.Version, res.Account, res.Connector)
	})
}

func cmdVaultList(args []string) error {
	var connector, domain string
	cf, _, c, ctx, cancel, err := setup("vault list", "vault list [-connector NAME] [-domain D]", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&connector, "connector", "vault", "the builtin connector block's name")
		fs.StringVar(&domain, "domain", "", "only this domain")
	})
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.Accounts(ctx, connector, domain)
	if err != nil {
		return err
	}
	return cf.output(list, func(w io.Writer) {
		fmt.Fprintln(w, "ACCOUNT\tVERSION\tUPDATED\tDESCRIPTION")
		for _, a := range list {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", a.Account, a.Version, ts(a.UpdatedAt), a.Description)
		}
	})
}

func cmdVaultDelete(args []string) error {
	var connector string
	_, rest, c, ctx, cancel, err := setup("vault delete", "vault delete [-connector NAME] DOMAIN\\\\user", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&connector, "connector", "vault", "the builtin connector block's name")
	})
	if err != nil {
		return err
	}
	defer cancel()
	if err := c.DeleteAccount(ctx, connector, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Deleted %s and all its versions from %s.\n", rest[0], connector)
	return nil
}

func cmdTokenCreate(args []string) error {
	var req api.CreateTokenRequest
	cf, _, c, ctx, cancel, err := setup("token create", "token create -name N -user U [-role user|admin] [-ttl 720h]", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&req.Name, "name", "", "a name to recognise the token by (required)")
		fs.StringVar(&req.User, "user", "", "the configuration's user the token acts as (required)")
		fs.StringVar(&req.Role, "role", "user", "user or admin")
		fs.StringVar(&req.TTL, "ttl", "", "how long it is valid, e.g. 720h; default: until revoked")
	})
	if err != nil {
		return err
	}
	defer cancel()
	tok, err := c.CreateToken(ctx, req)
	if err != nil {
		return err
	}
	return cf.output(tok, func(w io.Writer) {
		fmt.Fprintf(w, "Token\t%s\n", tok.Token)
		fmt.Fprintf(w, "ID\t%s\n", tok.ID)
		fmt.Fprintf(w, "User\t%s (%s)\n", tok.User, tok.Role)
		fmt.Fprintf(w, "Expires\t%s\n", ts(tok.ExpiresAt))
		fmt.Fprintln(w, "\nThe token is shown only now; byov keeps only its hash.")
	})
}

func cmdTokenList(args []string) error {
	cf, _, c, ctx, cancel, err := setup("token list", "token list", args, 0, nil)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.Tokens(ctx)
	if err != nil {
		return err
	}
	return cf.output(list, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tUSER\tROLE\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
		for _, t := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.User, t.Role, ts(t.CreatedAt), ts(t.ExpiresAt), ts(t.LastUsedAt), ts(t.RevokedAt))
		}
	})
}

func cmdTokenRevoke(args []string) error {
	cf, rest, c, ctx, cancel, err := setup("token revoke", "token revoke ID", args, 1, nil)
	if err != nil {
		return err
	}
	defer cancel()
	t, err := c.RevokeToken(ctx, rest[0])
	if err != nil {
		return err
	}
	return cf.output(t, func(w io.Writer) { fmt.Fprintf(w, "Revoked token %s (%s).\n", t.ID, t.Name) })
}

func cmdAuditList(args []string) error {
	var q client.AuditQuery
	cf, _, c, ctx, cancel, err := setup("audit list", "audit list [-session ID] [-type T] [-since 1h] [-limit N]", args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&q.SessionID, "session", "", "only this session's records")
		fs.StringVar(&q.Type, "type", "", "a record type, or a prefix ending in a dot (e.g. session.)")
		fs.DurationVar(&q.SinceAgo, "since", 0, "only records newer than this long ago")
		fs.IntVar(&q.Limit, "limit", 100, "at most this many records")
	})
	if err != nil {
		return err
	}
	defer cancel()
	page, err := c.Audit(ctx, q)
	if err != nil {
		return err
	}
	return cf.output(page, func(w io.Writer) {
		fmt.Fprintln(w, "SEQ\tTIME\tTYPE\tACTOR\tSESSION\tOUTCOME\tDETAIL")
		for _, r := range page.Records {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, ts(r.Time), r.Type, dash(r.Actor), dash(r.SessionID), dash(string(r.Outcome)), detailText(r))
		}
	})
}

func detailText(r audit.Record) string {
	parts := make([]string, 0, len(r.Detail))
	for k, v := range r.Detail {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func cmdAuditVerify(args []string) error {
	cf, _, c, ctx, cancel, err := setup("audit verify", "audit verify", args, 0, nil)
	if err != nil {
		return err
	}
	defer cancel()
	rep, err := c.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if err := cf.output(rep, func(w io.Writer) { fmt.Fprintln(w, rep.String()) }); err != nil {
		return err
	}
	if !rep.OK {
		return exitError(1)
	}
	return nil
}
