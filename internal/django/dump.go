// Package django reads a Django project's users, groups and permissions
// from `manage.py dumpdata` output and turns them into a Gaia seed. It
// writes nothing itself and never invents a Gaia permission: only the
// permissions map decides what a Django permission becomes.
package django

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gaia-platform/iam/internal/identity"
)

// ErrInvalidDump is a dump that cannot be imported as a whole.
var ErrInvalidDump = errors.New("invalid Django dump")

// Dump is what an import takes from a dumpdata file.
type Dump struct {
	Users  []User
	Groups []Group
	// Permissions are the auth.permission records, by "app_label.codename";
	// an import needs them only to describe permissions and to resolve
	// references by primary key.
	Permissions map[string]Permission
	// Ignored counts records of other models, by model.
	Ignored map[string]int
}

// User is a record of auth.user, or of a custom user model with the same
// fields.
type User struct {
	Record      string // names the record in messages
	Username    string
	Password    string // Django's encoded hash
	IsActive    bool
	IsSuperuser bool
	Groups      []string // group names
	// DirectPermissions are user_permissions, as "app_label.codename".
	DirectPermissions []string
}

// Group is a record of auth.group.
type Group struct {
	Record      string
	Name        string
	Permissions []string // "app_label.codename"
}

// Permission is a record of auth.permission.
type Permission struct {
	Code string // "app_label.codename", as user.has_perm takes it
	Name string // "Can change item"
}

type record struct {
	Model  string          `json:"model"`
	PK     json.RawMessage `json:"pk"`
	Fields json.RawMessage `json:"fields"`
}

// ParseDump reads dumpdata's JSON: an array of {"model", "pk", "fields"}
// records, best made with --natural-foreign. Users are records of any model
// with username and password fields. Any malformed record, a reference to a
// group missing from the dump, or two usernames that are one in Gaia (same
// after case folding and NFKC) fail the whole dump with a message naming
// the record.
func ParseDump(r io.Reader) (Dump, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Dump{}, err
	}
	records, err := splitRecords(raw)
	if err != nil {
		return Dump{}, err
	}
	p := parser{
		dump:        Dump{Permissions: map[string]Permission{}, Ignored: map[string]int{}},
		groupByPK:   map[string]string{},
		groupByName: map[string]string{},
		permByPK:    map[string]string{},
	}
	// Groups and permissions first: users refer to them.
	for pass := range 3 {
		for i, rec := range records {
			if err := p.record(pass, i+1, rec); err != nil {
				return Dump{}, err
			}
		}
	}
	if err := checkUsernames(p.dump.Users); err != nil {
		return Dump{}, err
	}
	return p.dump, nil
}

// splitRecords checks the JSON and returns its records, naming the record
// where it breaks.
func splitRecords(raw []byte) ([]record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%w: not a JSON array of records as dumpdata writes (%s)", ErrInvalidDump, position(raw, dec.InputOffset()))
	}
	var records []record
	for dec.More() {
		var rec record
		var typ *json.UnmarshalTypeError
		if err := dec.Decode(&rec); errors.As(err, &typ) {
			return nil, fmt.Errorf("%w: record %d: want an object with \"model\" and \"fields\"", ErrInvalidDump, len(records)+1)
		} else if err != nil {
			return nil, fmt.Errorf("%w: record %d: invalid JSON at %s: %v", ErrInvalidDump, len(records)+1, errorPosition(raw, dec, err), err)
		}
		records = append(records, rec)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: after record %d: invalid JSON at %s: %v", ErrInvalidDump, len(records), errorPosition(raw, dec, err), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the closing ] (%s)", ErrInvalidDump, position(raw, dec.InputOffset()))
	}
	return records, nil
}

func errorPosition(raw []byte, dec *json.Decoder, err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return position(raw, syntax.Offset)
	}
	return position(raw, dec.InputOffset())
}

func position(raw []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(raw)))
	before := raw[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

type parser struct {
	dump        Dump
	groupByPK   map[string]string // pk → name
	groupByName map[string]string // name → record
	permByPK    map[string]string // pk → "app_label.codename"
}

// record handles rec in its pass: 0 permissions, 1 groups, 2 users.
func (p *parser) record(pass, n int, rec record) error {
	model := strings.ToLower(rec.Model)
	name := recordName(n, rec, "")
	if model == "" || len(rec.Fields) == 0 || rec.Fields[0] != '{' {
		if pass == 0 {
			return fmt.Errorf("%w: record %d: want an object with \"model\" and \"fields\"", ErrInvalidDump, n)
		}
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.Fields, &fields); err != nil {
		return fmt.Errorf("%w: %s: fields: %v", ErrInvalidDump, name, err)
	}
	var err error
	switch {
	case model == "auth.permission":
		if pass == 0 {
			err = p.permission(name, rec)
		}
	case model == "auth.group":
		if pass == 1 {
			err = p.group(n, name, rec)
		}
	case model == "auth.user" || (fields["username"] != nil && fields["password"] != nil):
		if pass == 2 {
			err = p.user(n, name, rec)
		}
	default:
		if pass == 0 {
			p.dump.Ignored[rec.Model]++
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDump, err)
	}
	return nil
}

func (p *parser) permission(name string, rec record) error {
	var f struct {
		Codename    string          `json:"codename"`
		Name        string          `json:"name"`
		ContentType json.RawMessage `json:"content_type"`
	}
	if err := decodeFields(name, rec.Fields, &f); err != nil {
		return err
	}
	var ct []string
	if err := json.Unmarshal(f.ContentType, &ct); err != nil || len(ct) != 2 || f.Codename == "" {
		return fmt.Errorf("%s: want a codename and a content_type [app_label, model]: dump with --natural-foreign", name)
	}
	code := ct[0] + "." + f.Codename
	p.dump.Permissions[code] = Permission{Code: code, Name: f.Name}
	if pk := pkString(rec.PK); pk != "" {
		p.permByPK[pk] = code
	}
	return nil
}

func (p *parser) group(n int, name string, rec record) error {
	var f struct {
		Name        *string           `json:"name"`
		Permissions []json.RawMessage `json:"permissions"`
	}
	if err := decodeFields(name, rec.Fields, &f); err != nil {
		return err
	}
	if f.Name == nil || *f.Name == "" {
		return fmt.Errorf("%s: a group needs a name", name)
	}
	name = recordName(n, rec, *f.Name)
	if other, ok := p.groupByName[*f.Name]; ok {
		return fmt.Errorf("%s: group %q is also %s", name, *f.Name, other)
	}
	perms, err := p.permissionRefs(name, f.Permissions)
	if err != nil {
		return err
	}
	p.groupByName[*f.Name] = name
	if pk := pkString(rec.PK); pk != "" {
		p.groupByPK[pk] = *f.Name
	}
	p.dump.Groups = append(p.dump.Groups, Group{Record: name, Name: *f.Name, Permissions: perms})
	return nil
}

func (p *parser) user(n int, name string, rec record) error {
	var f struct {
		Username        *string           `json:"username"`
		Password        *string           `json:"password"`
		IsActive        *bool             `json:"is_active"`
		IsSuperuser     *bool             `json:"is_superuser"`
		Groups          []json.RawMessage `json:"groups"`
		UserPermissions []json.RawMessage `json:"user_permissions"`
	}
	if err := decodeFields(name, rec.Fields, &f); err != nil {
		return err
	}
	if f.Username == nil || *f.Username == "" {
		return fmt.Errorf("%s: a user needs a username", name)
	}
	if f.Password == nil {
		return fmt.Errorf("%s: password: want a string (Django's encoded hash)", name)
	}
	name = recordName(n, rec, *f.Username)
	u := User{Record: name, Username: *f.Username, Password: *f.Password, IsActive: true}
	if f.IsActive != nil { // custom user models may leave it out: then active
		u.IsActive = *f.IsActive
	}
	if f.IsSuperuser != nil {
		u.IsSuperuser = *f.IsSuperuser
	}
	for _, ref := range f.Groups {
		g, err := p.groupRef(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		u.Groups = append(u.Groups, g)
	}
	perms, err := p.permissionRefs(name, f.UserPermissions)
	if err != nil {
		return err
	}
	u.DirectPermissions = perms
	p.dump.Users = append(p.dump.Users, u)
	return nil
}

// groupRef resolves a user's group: a natural key ["name"] or a pk.
func (p *parser) groupRef(ref json.RawMessage) (string, error) {
	var natural []string
	if err := json.Unmarshal(ref, &natural); err == nil {
		if len(natural) != 1 {
			return "", fmt.Errorf("group %s: want a natural key [name]", ref)
		}
		if _, ok := p.groupByName[natural[0]]; !ok {
			return "", fmt.Errorf("group %q is not in the dump (dump auth.group too)", natural[0])
		}
		return natural[0], nil
	}
	if g, ok := p.groupByPK[pkString(ref)]; ok {
		return g, nil
	}
	return "", fmt.Errorf("group %s is not in the dump (dump auth.group too, with --natural-foreign)", ref)
}

// permissionRefs resolves permissions: natural keys [codename, app_label,
// model], or pks of auth.permission records in the dump.
func (p *parser) permissionRefs(name string, refs []json.RawMessage) ([]string, error) {
	var out []string
	for _, ref := range refs {
		var natural []string
		if err := json.Unmarshal(ref, &natural); err == nil {
			if len(natural) != 3 || natural[0] == "" || natural[1] == "" {
				return nil, fmt.Errorf("%s: permission %s: want a natural key [codename, app_label, model]", name, ref)
			}
			out = append(out, natural[1]+"."+natural[0])
			continue
		}
		code, ok := p.permByPK[pkString(ref)]
		if !ok {
			return nil, fmt.Errorf("%s: permission %s is not in the dump: dump with --natural-foreign", name, ref)
		}
		out = append(out, code)
	}
	return out, nil
}

// decodeFields decodes a record's fields, naming the field of a type error.
func decodeFields(name string, fields json.RawMessage, into any) error {
	if err := json.Unmarshal(fields, into); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fmt.Errorf("%s: field %s: want %s, not %s", name, typ.Field, typ.Type, typ.Value)
		}
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

// recordName names the n-th record (from 1) in messages, as
// `record 3 (auth.user pk=2 "alice")`.
func recordName(n int, rec record, key string) string {
	label := rec.Model
	if pk := pkString(rec.PK); pk != "" {
		label += " pk=" + pk
	}
	if key != "" {
		label += fmt.Sprintf(" %q", key)
	}
	return fmt.Sprintf("record %d (%s)", n, label)
}

func pkString(pk json.RawMessage) string {
	var s string
	if json.Unmarshal(pk, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(pk))
}

// checkUsernames refuses two users who would be one in Gaia, where
// usernames are unique after NFKC normalisation and case folding.
func checkUsernames(users []User) error {
	seen := map[string]string{}
	for _, u := range users {
		_, key := identity.NormalizeUsername(u.Username)
		if other, ok := seen[key]; ok {
			return fmt.Errorf("%w: %s and %s are the same user in Gaia IAM (usernames are case-insensitive and NFKC-normalised): rename one in Django first",
				ErrInvalidDump, u.Record, other)
		}
		seen[key] = u.Record
	}
	return nil
}
