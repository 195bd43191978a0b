package django_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/django"
	"github.com/gaia-platform/iam/internal/identity"
)

func TestParseDump_Example(t *testing.T) {
	d := parseFile(t, "django-dump.json")
	if len(d.Users) != 8 || len(d.Groups) != 4 || len(d.Permissions) != 17 {
		t.Fatalf("%d users, %d groups, %d permissions; want 8, 4, 17", len(d.Users), len(d.Groups), len(d.Permissions))
	}
	bob := d.Users[2]
	if bob.Username != "bob" || !bob.IsActive || bob.IsSuperuser ||
		!slices.Equal(bob.Groups, []string{"Inventory Managers", "Viewers"}) ||
		!slices.Equal(bob.DirectPermissions, []string{"inventory.delete_item"}) {
		t.Errorf("bob = %+v", bob)
	}
	if p := d.Permissions["analytics.export_report"]; p.Name != "Can export reports as CSV" {
		t.Errorf("analytics.export_report = %+v", p)
	}
	if !slices.Contains(d.Groups[1].Permissions, "analytics.export_report") {
		t.Errorf("Analysts permissions %q", d.Groups[1].Permissions)
	}
}

// Without --natural-foreign, dumpdata writes primary keys; they resolve
// when the records they name are in the dump.
func TestParseDump_PrimaryKeyReferences(t *testing.T) {
	d := parse(t, `[
		{"model": "auth.permission", "pk": 7, "fields": {"name": "Can view item", "content_type": ["inventory", "item"], "codename": "view_item"}},
		{"model": "auth.group", "pk": 3, "fields": {"name": "Viewers", "permissions": [7]}},
		{"model": "accounts.user", "pk": 1, "fields": {"username": "zoë", "password": "", "groups": [3], "email": "z@example.com"}},
		{"model": "contenttypes.contenttype", "pk": 1, "fields": {"app_label": "inventory", "model": "item"}}
	]`)
	if len(d.Users) != 1 || !slices.Equal(d.Users[0].Groups, []string{"Viewers"}) || !d.Users[0].IsActive {
		t.Errorf("users %+v: want zoë, active (no is_active field), in Viewers", d.Users)
	}
	if !slices.Equal(d.Groups[0].Permissions, []string{"inventory.view_item"}) {
		t.Errorf("group permissions %q", d.Groups[0].Permissions)
	}
	if d.Ignored["contenttypes.contenttype"] != 1 {
		t.Errorf("ignored %v", d.Ignored)
	}
}

func TestParseDump_CorruptDumpsNameTheRecord(t *testing.T) {
	const group = `{"model": "auth.group", "pk": 1, "fields": {"name": "Viewers", "permissions": []}}`
	user := func(pk, username string) string {
		return `{"model": "auth.user", "pk": ` + pk + `, "fields": {"username": "` + username + `", "password": "", "is_active": true, "groups": [["Viewers"]]}}`
	}
	for name, tc := range map[string]struct{ dump, want string }{
		"truncated JSON":             {`[` + group + `, ` + user("1", "alice")[:40], "record 2: invalid JSON"},
		"bad JSON in record":         {"[\n" + group + ",\n" + `{"model": "auth.user" "pk": 2}` + "]", "record 2: invalid JSON at line 3"},
		"not an array":               {`{"model": "auth.user"}`, "not a JSON array"},
		"trailing data":              {`[` + group + `] x`, "after the closing ]"},
		"record not object":          {`[` + group + `, 42]`, `record 2: want an object with "model" and "fields"`},
		"unknown group":              {`[` + group + `, ` + strings.Replace(user("5", "alice"), `["Viewers"]`, `["Auditors"]`, 1) + `]`, `record 2 (auth.user pk=5 "alice"): group "Auditors" is not in the dump`},
		"unknown group pk":           {`[` + group + `, ` + strings.Replace(user("5", "alice"), `["Viewers"]`, `9`, 1) + `]`, `record 2 (auth.user pk=5 "alice"): group 9 is not in the dump`},
		"case duplicate":             {`[` + group + `, ` + user("1", "alice") + `, ` + user("2", "Alice") + `]`, `record 3 (auth.user pk=2 "Alice") and record 2 (auth.user pk=1 "alice") are the same user`},
		"NFKC duplicate":             {`[` + group + `, ` + user("1", "alice") + `, ` + user("2", "ａｌｉｃｅ") + `]`, `record 3 (auth.user pk=2 "ａｌｉｃｅ") and record 2 (auth.user pk=1 "alice")`},
		"is_active not bool":         {`[` + group + `, ` + strings.Replace(user("1", "alice"), `"is_active": true`, `"is_active": "yes"`, 1) + `]`, "record 2 (auth.user pk=1): field is_active: want bool, not string"},
		"no username":                {`[{"model": "auth.user", "pk": 1, "fields": {"username": "", "password": ""}}]`, "record 1 (auth.user pk=1): a user needs a username"},
		"auth.user without password": {`[{"model": "auth.user", "pk": 1, "fields": {"username": "al"}}]`, "record 1 (auth.user pk=1): password: want a string"},
		"password not string":        {`[{"model": "auth.user", "pk": 1, "fields": {"username": "al", "password": null}}]`, "record 1 (auth.user pk=1): password"},
		"duplicate group":            {`[` + group + `, ` + group + `]`, `record 2 (auth.group pk=1 "Viewers"): group "Viewers" is also record 1`},
		"bad permission key":         {`[{"model": "auth.group", "pk": 1, "fields": {"name": "G", "permissions": [["view_item"]]}}]`, `record 1 (auth.group pk=1 "G"): permission ["view_item"]`},
		"permission pk alone":        {`[{"model": "auth.group", "pk": 1, "fields": {"name": "G", "permissions": [4]}}]`, "permission 4 is not in the dump: dump with --natural-foreign"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := django.ParseDump(strings.NewReader(tc.dump))
			if !errors.Is(err, django.ErrInvalidDump) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseDump = %v\nwant ErrInvalidDump containing %q", err, tc.want)
			}
		})
	}
}

func TestParsePermissionMap(t *testing.T) {
	m, err := django.ParsePermissionMap(strings.NewReader(`
inventory.view_item: inventory.read
inventory.change_item: [inventory.read, inventory.write]
`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m["inventory.view_item"], []string{"inventory.read"}) || !slices.Equal(m["inventory.change_item"], []string{"inventory.read", "inventory.write"}) {
		t.Errorf("map %v", m)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad gaia code":   {"inventory.view_item: Inventory Read", `inventory.view_item: invalid permission code "Inventory Read"`},
		"bad django key":  {"view_item: inventory.read", `"view_item": want a Django permission as app_label.codename`},
		"nested value":    {"inventory.view_item: {a: b}", "inventory.view_item: want a Gaia permission code or a list"},
		"not a mapping":   {"- inventory.read", "want a YAML mapping"},
		"number in list":  {"inventory.view_item: [inventory.read, 3]", "inventory.view_item: want Gaia permission codes"},
		"empty list item": {"inventory.view_item: ['']", "inventory.view_item: invalid permission code"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := django.ParsePermissionMap(strings.NewReader(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePermissionMap = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestToSeed_Example(t *testing.T) {
	d := parseFile(t, "django-dump.json")
	f, err := os.Open(filepath.Join("..", "..", "examples", "django-permissions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := django.ParsePermissionMap(f)
	if err != nil {
		t.Fatal(err)
	}
	// inventory.read exists already, with its own description.
	seed, report, err := django.ToSeed(d, m, django.Current{
		Permissions: []authz.Permission{{Code: "inventory.read", Description: "See the inventory"}},
		Roles:       []authz.Role{{Name: "viewers", Description: "Read-only staff"}, {Name: authz.AdminRole, Builtin: true}},
	})
	if err != nil {
		t.Fatal(err)
	}

	var codes []string
	for _, p := range seed.Permissions {
		codes = append(codes, p.Code)
	}
	wantStrings(t, "permissions to create", codes, "analytics.report.export", "analytics.report.view", "inventory.write")
	if d := seed.Permissions[2].Description; d != "From Django inventory.add_item, inventory.change_item, inventory.delete_item" {
		t.Errorf("inventory.write description %q", d)
	}

	roles := map[string]authz.SeedRole{}
	for _, r := range seed.Roles {
		roles[r.Name] = r
	}
	wantStrings(t, "Inventory Managers", roles["Inventory Managers"].Permissions, "analytics.report.view", "inventory.read", "inventory.write")
	wantStrings(t, "Analysts", roles["Analysts"].Permissions, "analytics.report.export", "analytics.report.view", "inventory.read")
	wantStrings(t, "Support", roles["Support"].Permissions)
	if roles["Support"].Permissions == nil {
		t.Error("Support permissions nil: a seed role with nil permissions still means none, but say so")
	}
	if r := roles["Viewers"]; r.Description != "Read-only staff" {
		t.Errorf("Viewers description %q: an existing role keeps its description", r.Description)
	}
	if r := roles["Analysts"]; r.Description != "Django group Analysts" {
		t.Errorf("Analysts description %q", r.Description)
	}

	users := map[string]authz.SeedUser{}
	for _, u := range seed.Users {
		users[u.Username] = u
	}
	wantStrings(t, "admin roles", users["admin"].Roles, authz.AdminRole)
	wantStrings(t, "bob roles", users["bob"].Roles, "Inventory Managers", "Viewers")
	if users["erin"].State != "disabled" || users["alice"].State != "active" {
		t.Errorf("states: erin %q, alice %q", users["erin"].State, users["alice"].State)
	}
	if h := users["alice"].PasswordHash; !strings.HasPrefix(h, "pbkdf2_sha256$600000$") || identity.CheckHash(h) != nil {
		t.Errorf("alice's hash is not carried: %q", identity.HashAlgorithm(h))
	}
	if users["frank"].PasswordHash != "" || users["svc-reports"].PasswordHash != "" {
		t.Error("unusable or unsupported hashes are carried: they must be left out")
	}

	if len(report.Unmapped) != 2 || report.Unmapped[0].Permission != "auth.change_user" || !slices.Equal(report.Unmapped[0].Groups, []string{"Support"}) {
		t.Errorf("unmapped %+v", report.Unmapped)
	}
	if len(report.NoPassword) != 2 || report.NoPassword[0].Username != "svc-reports" || report.NoPassword[1].Username != "frank" ||
		!strings.Contains(report.NoPassword[1].Reason, `"md5"`) {
		t.Errorf("no password %+v", report.NoPassword)
	}
	if len(report.DirectPermissions) != 1 || report.DirectPermissions[0].Username != "bob" {
		t.Errorf("direct permissions %+v", report.DirectPermissions)
	}
	if len(report.UnusedMappings) != 0 {
		t.Errorf("unused mappings %q", report.UnusedMappings)
	}
}

func TestToSeed_GroupsThatCannotBeRoles(t *testing.T) {
	for name, tc := range map[string]struct{ dump, want string }{
		"built-in role": {`[{"model": "auth.group", "pk": 1, "fields": {"name": "IAM-Admin", "permissions": []}}]`,
			`record 1 (auth.group pk=1 "IAM-Admin"): iam-admin is Gaia IAM's built-in role`},
		"case clash": {`[{"model": "auth.group", "pk": 1, "fields": {"name": "Staff", "permissions": []}},
			{"model": "auth.group", "pk": 2, "fields": {"name": "staff", "permissions": []}}]`,
			`record 2 (auth.group pk=2 "staff") and record 1 (auth.group pk=1 "Staff") would be one role`},
		"name too long": {`[{"model": "auth.group", "pk": 1, "fields": {"name": "` + strings.Repeat("g", 120) + `", "permissions": []}}]`,
			`record 1 (auth.group pk=1`},
		"username with space": {`[{"model": "auth.user", "pk": 4, "fields": {"username": "jo anne", "password": ""}}]`,
			`record 1 (auth.user pk=4 "jo anne"): invalid username`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := django.ToSeed(parse(t, tc.dump), nil, django.Current{})
			if !errors.Is(err, django.ErrInvalidDump) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ToSeed = %v\nwant ErrInvalidDump containing %q", err, tc.want)
			}
		})
	}
}

func parse(t *testing.T, dump string) django.Dump {
	t.Helper()
	d, err := django.ParseDump(strings.NewReader(dump))
	if err != nil {
		t.Fatalf("ParseDump: %v", err)
	}
	return d
}

func parseFile(t *testing.T, name string) django.Dump {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := django.ParseDump(f)
	if err != nil {
		t.Fatalf("ParseDump(%s): %v", name, err)
	}
	return d
}

func wantStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
