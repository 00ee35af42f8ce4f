package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/server"
)

// securityCommands are token, role, audit, login and logout.
func (a *app) securityCommands() []*cobra.Command {
	return []*cobra.Command{a.tokenCommand(), a.roleCommand(), a.auditCommand(), a.loginCommand(), a.logoutCommand()}
}

// securityFlags adds the server's authentication and TLS flags to fl.
func (a *app) securityFlags(fl *pflag.FlagSet, s *server.Security) {
	fl.BoolVar(&s.Auth, "auth", false, "require API tokens (Authorization: Bearer) or a web session on every request")
	fl.BoolVar(&s.InsecureNoAuth, "insecure-no-auth", false, "allow a non-loopback --addr without --auth (anyone who reaches it may deploy)")
	fl.StringVar(&s.BootstrapTokenFile, "bootstrap-token-file", "", "write the first admin token here (mode 0600) instead of printing it to stderr")
	fl.StringVar(&s.BootstrapTokenFrom, "bootstrap-token-from", a.getenv("SLUICE_BOOTSTRAP_TOKEN_FILE"), "read the first admin token from this file (e.g. a mounted Secret) instead of making one; used only while no admin token is active (env SLUICE_BOOTSTRAP_TOKEN_FILE)")
	fl.StringVar(&s.TLSCertFile, "tls-cert", "", "PEM certificate file; with --tls-key the server speaks HTTPS")
	fl.StringVar(&s.TLSKeyFile, "tls-key", "", "PEM private key file of --tls-cert")
	fl.StringVar(&s.PublicURL, "public-url", "", "URL people and clients reach the server at, e.g. https://sluice.example.com (its host is accepted in Host headers, its origin may change state)")
	fl.StringArrayVar(&s.AllowedHosts, "allowed-host", nil, "a further name the server is served as (host or host:port; repeatable); IP addresses and localhost always are; other Host headers are refused (DNS rebinding)")
}

// apiToken is the bearer token: --token, then SLUICE_TOKEN, then the one saved by
// `sluice login` for this server.
func (a *app) apiToken() string {
	if a.token != "" {
		return a.token
	}
	if t := a.getenv("SLUICE_TOKEN"); t != "" {
		return t
	}
	creds, _ := a.readCredentials()
	return creds[a.server]
}

// credentialsPath is where `sluice login` saves tokens, per server.
func (a *app) credentialsPath() (string, error) {
	dir := a.getenv("SLUICE_CONFIG_DIR")
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find config directory (set SLUICE_CONFIG_DIR): %w", err)
		}
		dir = filepath.Join(base, "sluice")
	}
	return filepath.Join(dir, "credentials.json"), nil
}

func (a *app) readCredentials() (map[string]string, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	creds := map[string]string{}
	if err := json.Unmarshal(b, &creds); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return creds, nil
}

// writeCredentials saves creds readable by the user alone.
func (a *app) writeCredentials(creds map[string]string) error {
	path, err := a.credentialsPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	b, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

func (a *app) loginCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check an API token (read from stdin) against the server and save it for later commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(a.stderr, "paste an API token for", a.server, "and press Enter:")
			line, err := bufio.NewReader(a.stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read token from stdin: %w", err)
			}
			a.token = strings.TrimSpace(line)
			c, err := a.client()
			if err != nil {
				return err
			}
			me, err := c.WhoAmI(cmd.Context())
			if err != nil {
				return err
			}
			creds, err := a.readCredentials()
			if err != nil {
				return err
			}
			creds[a.server] = a.token
			if err := a.writeCredentials(creds); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "logged in to %s as %s\n", a.server, me.User)
			return nil
		},
	}
}

func (a *app) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the token saved for the server (it stays valid; revoke it with sluice token revoke)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			creds, err := a.readCredentials()
			if err != nil {
				return err
			}
			delete(creds, a.server)
			if err := a.writeCredentials(creds); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "forgot the token of", a.server)
			return nil
		},
	}
}

func (a *app) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var req api.TokenRequest
	create := &cobra.Command{
		Use:   "create USER",
		Short: "Create an API token for USER; its secret is shown only this once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			req.User = args[0]
			t, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if done, err := a.emit(t); done {
				return err
			}
			fmt.Fprintf(a.stdout, "token %s for %s, %s\n\n%s\n\n", t.ID, t.User, expiresText(t.ExpiresAt), t.Secret)
			fmt.Fprintln(a.stderr, "The secret is shown only this once: store it now.")
			return nil
		},
	}
	fl := create.Flags()
	fl.StringSliceVar(&req.Groups, "group", nil, "a group the token's user belongs to (repeatable)")
	fl.StringVar(&req.ExpiresIn, "expires", "", "lifetime such as 720h (default: never expires)")
	fl.StringVar(&req.Description, "description", "", "what the token is for")
	var sessions bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (all for an admin, your own otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.listTokens(cmd, sessions)
		},
	}
	list.Flags().BoolVar(&sessions, "sessions", false, "list web sessions instead of API tokens")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token and the web sessions made from it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if done, err := a.emit(t); done {
				return err
			}
			fmt.Fprintf(a.stdout, "revoked token %s of %s\n", t.ID, t.User)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func expiresText(t *time.Time) string {
	if t == nil {
		return "never expires"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}

func (a *app) listTokens(cmd *cobra.Command, sessions bool) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	kind := ""
	if sessions {
		kind = "session"
	}
	ts, err := c.Tokens(cmd.Context(), kind)
	if err != nil {
		return err
	}
	if done, err := a.emit(api.TokenList{Items: ts}); done {
		return err
	}
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		state := "active"
		switch {
		case t.RevokedAt != nil:
			state = "revoked by " + t.RevokedBy
		case !t.Active:
			state = "expired"
		}
		exp := "never"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{t.ID, t.User, orDash(strings.Join(t.Groups, ",")), a.age(t.CreatedAt),
			exp, state, orDash(t.Description)})
	}
	return a.table([]string{"ID", "USER", "GROUPS", "CREATED", "EXPIRES", "STATE", "DESCRIPTION"}, rows)
}

func (a *app) roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Grant, revoke and list roles (viewer, deployer, approver, admin) per environment"}
	var env string
	change := func(use, short string, grant bool) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " SUBJECT ROLE --environment ENV",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.changeRole(cmd, api.Grant{Subject: args[0], Role: args[1], Environment: env}, grant)
			},
		}
		c.Flags().StringVarP(&env, "environment", "e", "", `the environment, or "*" for all (required)`)
		_ = c.MarkFlagRequired("environment")
		return c
	}
	var listEnv string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the grants of the environments you administer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			gs, err := c.Grants(cmd.Context(), listEnv)
			if err != nil {
				return err
			}
			if done, err := a.emit(api.GrantList{Items: gs}); done {
				return err
			}
			rows := make([][]string, 0, len(gs))
			for _, g := range gs {
				rows = append(rows, []string{g.Subject, g.Role, g.Environment, orDash(g.CreatedBy)})
			}
			return a.table([]string{"SUBJECT", "ROLE", "ENVIRONMENT", "GRANTED BY"}, rows)
		},
	}
	list.Flags().StringVarP(&listEnv, "environment", "e", "", "only grants that apply in this environment")
	cmd.AddCommand(change("grant", "Give a user or group:<name> a role in an environment", true),
		change("revoke", "Take a role in an environment away from a user or group:<name>", false), list)
	return cmd
}

func (a *app) changeRole(cmd *cobra.Command, g api.Grant, grant bool) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	if !grant {
		if err := c.RevokeGrant(cmd.Context(), g); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "revoked %s %s in %s\n", g.Subject, g.Role, g.Environment)
		return nil
	}
	res, err := c.Grant(cmd.Context(), g)
	if err != nil {
		return err
	}
	if done, err := a.emit(res); done {
		return err
	}
	verb := "granted"
	if !res.Created {
		verb = "already granted:"
	}
	fmt.Fprintf(a.stdout, "%s %s %s in %s\n", verb, g.Subject, g.Role, g.Environment)
	return nil
}

func (a *app) auditCommand() *cobra.Command {
	var f audit.Filter
	var since, until string
	var all bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log a page at a time (--all for every page; -o jsonl exports it as JSON lines)",
		Args:  cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "table", "json", "yaml", "jsonl":
				return nil
			}
			return fmt.Errorf("-o %q: want table, json, yaml or jsonl", a.output)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if f.Since, err = a.timeFlag("since", since); err != nil {
				return err
			}
			if f.Until, err = a.timeFlag("until", until); err != nil {
				return err
			}
			if (all || a.output == "jsonl") && !cmd.Flags().Changed("limit") {
				f.Limit = 0 // every page, unless --limit caps the total
			}
			if f.Limit < 0 || f.Limit > audit.MaxPage && !all && a.output != "jsonl" {
				return fmt.Errorf("--limit %d: a page holds 1 to %d entries; use --all for every page", f.Limit, audit.MaxPage)
			}
			return a.showAudit(cmd, f, all)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only entries since a time (RFC 3339) or a duration ago such as 24h")
	fl.StringVar(&until, "until", "", "only entries before a time (RFC 3339) or a duration ago")
	fl.StringVar(&f.Actor, "actor", "", "only entries by this user")
	fl.StringVar(&f.Action, "action", "", "only this action (apply, run, approve, token.create, role.grant, login, ...)")
	fl.StringVar(&f.Environment, "environment", "", "only entries about this environment")
	fl.StringVar(&f.Outcome, "outcome", "", "only ok, denied or failed entries")
	fl.IntVar(&f.Limit, "limit", audit.DefaultPage, "entries per page (at most 1000); with --all or -o jsonl, at most this many in all (0: no limit)")
	fl.Int64Var(&f.After, "after", 0, "start after this seq: the cursor that ends the previous page")
	fl.BoolVar(&all, "all", false, "follow the pages to the end")
	return cmd
}

// timeFlag reads an RFC 3339 time or a duration before now.
func (a *app) timeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return a.now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time or a duration such as 24h", name, s)
}

// showAudit prints one page (or every page with all) and, in a table, how to get the
// next page.
func (a *app) showAudit(cmd *cobra.Command, f audit.Filter, all bool) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	if a.output == "jsonl" {
		return c.AuditJSONL(cmd.Context(), f, a.stdout)
	}
	var page api.AuditList
	if all {
		page.Items, err = c.Audit(cmd.Context(), f)
	} else {
		page, err = c.AuditPage(cmd.Context(), f)
	}
	if err != nil {
		return err
	}
	if done, err := a.emit(page); done {
		return err
	}
	rows := make([][]string, 0, len(page.Items))
	for _, e := range page.Items {
		action := e.Action
		if e.Count > 1 {
			action = fmt.Sprintf("%s ×%d", e.Action, e.Count)
		}
		rows = append(rows, []string{strconv.FormatInt(e.Seq, 10), e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, action,
			e.Target, orDash(e.Environment), e.Outcome, e.Remote, orDash(e.Summary)})
	}
	if err := a.table([]string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "ENVIRONMENT", "OUTCOME", "FROM", "SUMMARY"}, rows); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(a.stderr, "more entries: sluice audit --after %s (or --all)\n", page.Next)
	}
	return nil
}
