package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk"
)

// Type and Version name this connector; the binary is
// byov-connector-passage_<Version>.
const (
	Type    = "passage"
	Version = "0.1.0"
)

// Config attribute names, used in messages too.
const (
	attrStoreDir       = "store_dir"
	attrIdentitiesFile = "identities_file"
	attrPathTemplate   = "path_template"
)

// DefaultPathTemplate maps CORP\alice to corp/alice.age.
const DefaultPathTemplate = "{domain}/{user}"

// maxEntrySize bounds what a checkout reads: an entry is a password and a
// few lines of notes, and a huge file is a mistake, not a password.
const maxEntrySize = 1 << 20

// Connector is the passage connector. Its zero value is ready to serve.
type Connector struct{}

// Metadata describes the connector to the host.
func (Connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Type:        Type,
		Version:     Version,
		Description: `passage (age-encrypted pass) store: checks out DOMAIN\user from <store_dir>/<path>.age`,
		ConfigSchema: []sdk.Attribute{
			{Name: attrStoreDir, Type: sdk.TypeString, Required: true,
				Description: "the passage store directory (usually ~/.passage/store); relative to the byov config file"},
			// The path is no secret; the file it names is, and it never
			// appears in a message.
			{Name: attrIdentitiesFile, Type: sdk.TypeString, Required: true,
				Description: "the age identities file that decrypts the store (usually ~/.passage/identities); relative to the byov config file"},
			{Name: attrPathTemplate, Type: sdk.TypeString, Default: DefaultPathTemplate,
				Description: "entry path of an account, with {domain} and {user}, lower-cased; .age is appended"},
		},
	}
}

// Configure checks the config and loads the identities once: every
// checkout then only reads and decrypts one file.
func (Connector) Configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	log := req.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg := req.Config
	var problems []string
	storeDir, err := absoluteDir(cfg.String(attrStoreDir))
	if err != nil {
		problems = append(problems, attrStoreDir+" "+err.Error())
	}
	idFile := strings.TrimSpace(cfg.String(attrIdentitiesFile))
	if idFile == "" {
		problems = append(problems, attrIdentitiesFile+" is empty; give the age identities file that decrypts the store")
	} else if idFile, err = filepath.Abs(idFile); err != nil {
		problems = append(problems, attrIdentitiesFile+" "+err.Error())
	}
	tmpl, err := parseTemplate(cfg.String(attrPathTemplate))
	if err != nil {
		problems = append(problems, attrPathTemplate+" "+err.Error())
	}
	if len(problems) > 0 {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "fix the passage connector's config {} block",
			"invalid passage connector config: %s", strings.Join(problems, "; "))
	}
	ids, err := loadIdentities(idFile)
	if err != nil {
		return nil, err
	}
	log.Info("passage store opened", "store_dir", storeDir, "identities", len(ids), "path_template", tmpl.raw)
	return &instance{storeDir: storeDir, identities: ids, tmpl: tmpl, log: log}, nil
}

func absoluteDir(dir string) (string, error) {
	dir = strings.TrimSpace(dir)
	if dir == "" {
		return "", errors.New("is empty; give the passage store directory")
	}
	// The host runs plugins in its config file's directory, so a relative
	// path means the same to the operator and to the connector.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%q does not exist", dir)
	case err != nil:
		return "", fmt.Errorf("%q cannot be read: %v", dir, errors.Unwrap(err))
	case !st.IsDir():
		return "", fmt.Errorf("%q is not a directory", dir)
	}
	return filepath.Clean(dir), nil
}

// loadIdentities reads the identities file. Its content is secret, so no
// error quotes it, nor age's parse error (which may).
func loadIdentities(file string) ([]age.Identity, error) {
	f, err := os.Open(file)
	if err != nil {
		code := sdk.CodeInvalidConfig
		if errors.Is(err, fs.ErrPermission) {
			code = sdk.CodePermissionDenied
		}
		return nil, sdk.Wrap(err, code, "check identities_file, and that the byov host's user may read it",
			fmt.Sprintf("cannot open identities_file %q: %v", file, errors.Unwrap(err)))
	}
	defer f.Close()
	ids, err := age.ParseIdentities(io.LimitReader(f, maxEntrySize))
	if err != nil {
		return nil, sdk.Wrap(err, sdk.CodeInvalidConfig,
			"write one AGE-SECRET-KEY-1… line per identity, as age-keygen does; passphrase-protected identity files are not supported",
			fmt.Sprintf("identities_file %q holds no usable age identity", file))
	}
	return ids, nil
}

// template renders an account as an entry path.
type template struct {
	raw string
}

func parseTemplate(raw string) (template, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "{user}") {
		return template{}, fmt.Errorf("%q has no {user}; write it like %q", raw, DefaultPathTemplate)
	}
	rest := strings.NewReplacer("{domain}", "", "{user}", "").Replace(raw)
	if strings.ContainsAny(rest, "{}") {
		return template{}, fmt.Errorf("%q has a placeholder other than {domain} and {user}", raw)
	}
	if strings.HasPrefix(raw, "/") || strings.HasSuffix(raw, ".age") || strings.Contains(raw, "..") {
		return template{}, fmt.Errorf("%q must be a relative path inside the store, without .. and without the .age suffix", raw)
	}
	return template{raw: raw}, nil
}

// render returns the entry path of an account, or an error when the
// account's names would leave the store (a "..", a slash in the domain).
func (t template) render(a sdk.Account) (string, error) {
	domain, user := strings.ToLower(a.Domain), strings.ToLower(a.Username)
	if user == "" {
		return "", errors.New("the account has no user name")
	}
	for _, part := range []string{domain, user} {
		if strings.ContainsAny(part, `/\`) || part == "." || part == ".." || strings.ContainsRune(part, 0) {
			return "", fmt.Errorf("%q cannot be part of an entry path", part)
		}
	}
	p := strings.NewReplacer("{domain}", domain, "{user}", user).Replace(t.raw)
	// An account without a domain leaves an empty segment; drop it.
	p = path.Clean("/" + p)[1:]
	if p == "" || p == "." {
		return "", errors.New("the account renders to an empty path")
	}
	return p, nil
}

// instance is one configured store. It is never changed after Configure,
// so concurrent checkouts need no lock.
type instance struct {
	storeDir   string
	identities []age.Identity
	tmpl       template
	log        hclog.Logger
}

var _ sdk.Instance = (*instance)(nil)

func (in *instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	// Reading a local file does not take a context; look at it before and
	// after, so that a call the host gave up on does not hand out a secret.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entry, err := in.tmpl.render(req.Account)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeNotFound, "account names map to entry paths through path_template",
			"no passage entry for %s: %v", req.Account, err)
	}
	password, err := in.read(entry)
	if err != nil {
		return nil, in.readError(err, req.Account, entry)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &sdk.Credential{
		Username: req.Account.Username,
		Secret:   password,
		Metadata: map[string]string{"entry": entry},
	}, nil
}

var errEmptyFirstLine = errors.New("the first line is empty")

// read decrypts <store_dir>/<entry>.age and returns its first line.
func (in *instance) read(entry string) (sdk.Secret, error) {
	f, err := os.Open(filepath.Join(in.storeDir, filepath.FromSlash(entry)+".age"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, err := age.Decrypt(f, in.identities...)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxEntrySize))
	if err != nil {
		return "", err
	}
	return firstLine(b)
}

// firstLine is the password: passage, like pass, keeps notes below it.
func firstLine(b []byte) (sdk.Secret, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errEmptyFirstLine
	}
	return sdk.Secret(line), nil
}

// readError maps a failed read to the code the host acts on. None of these
// errors holds file content.
func (in *instance) readError(err error, a sdk.Account, entry string) error {
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sdk.Errorf(sdk.CodeNotFound,
			fmt.Sprintf("create it with `passage insert %s`, or change path_template", entry),
			"no passage entry for %s (looked for %s.age in store_dir)", a, entry)
	case errors.Is(err, fs.ErrPermission):
		return sdk.Wrap(err, sdk.CodePermissionDenied, "let the byov host's user read the store",
			fmt.Sprintf("cannot read the passage entry %s.age: permission denied", entry))
	case errors.As(err, &noMatch):
		return sdk.Wrap(err, sdk.CodePermissionDenied,
			"add the identity's recipient to the store's .age-recipients and run `passage reencrypt`",
			fmt.Sprintf("the passage entry %s.age is not encrypted to any identity in identities_file", entry))
	case errors.Is(err, errEmptyFirstLine):
		return sdk.Errorf(sdk.CodeNotFound, fmt.Sprintf("put the password on the first line: `passage edit %s`", entry),
			"the passage entry %s.age has no password: its first line is empty", entry)
	}
	in.log.Error("reading a passage entry failed", "entry", entry, "error", err.Error())
	return sdk.Wrap(err, sdk.CodeInternal, "the file may be damaged; restore it from the store's git history",
		fmt.Sprintf("the passage entry %s.age cannot be decrypted: %v", entry, err))
}

// Check reports on the store and the identities, and looks up the test
// account when one is given.
func (in *instance) Check(ctx context.Context, req sdk.CheckRequest) ([]sdk.Finding, error) {
	var out []sdk.Finding
	if _, err := absoluteDir(in.storeDir); err != nil {
		out = append(out, sdk.Finding{Step: "store directory", Message: attrStoreDir + " " + err.Error(),
			Hint: "mount or restore the passage store"})
		return out, nil
	}
	out = append(out,
		sdk.Finding{Step: "store directory", OK: true, Message: in.storeDir + " is readable"},
		sdk.Finding{Step: "identities", OK: true, Message: fmt.Sprintf("%d age identities loaded", len(in.identities))})
	if req.TestAccount.IsZero() {
		return out, nil
	}
	f := sdk.Finding{Step: "test account"}
	if _, err := in.Checkout(ctx, sdk.CheckoutRequest{Account: req.TestAccount}); err != nil {
		f.Message, f.Hint = err.Error(), sdk.HintOf(err)
	} else {
		f.OK, f.Message = true, fmt.Sprintf("%s decrypts", req.TestAccount)
	}
	return append(out, f), nil
}

// Close has nothing to release: files are opened per checkout.
func (in *instance) Close(context.Context) error { return nil }
