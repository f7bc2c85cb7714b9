// Package catalog is casebridge's opt-in field catalog
// (CASEBRIDGE_FIELD_CATALOG=on): it keeps each Cases domain's field
// definitions (ListFields, BatchGetField, ListFieldOptions) and, as a
// decorator of the UpdateCase call, lets messages name fields by name as
// well as by id and checks values against the field types before the API is
// called, so a wrong message is dead-lettered as validation without
// spending the UpdateCase quota.
//
// The catalog is loaded at start-up and refreshed on a jittered interval. A
// name it does not know triggers one refresh of that domain (at most one per
// MinRefreshGap, shared by all messages); if the name is still unknown the
// message is rejected. Its own calls are paced to their AWS quotas and
// retried when throttled (pace.go).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// CasesAPI is what the catalog reads field definitions with.
type CasesAPI interface {
	ListFields(ctx context.Context, in *connectcases.ListFieldsInput, optFns ...func(*connectcases.Options)) (*connectcases.ListFieldsOutput, error)
	BatchGetField(ctx context.Context, in *connectcases.BatchGetFieldInput, optFns ...func(*connectcases.Options)) (*connectcases.BatchGetFieldOutput, error)
	ListFieldOptions(ctx context.Context, in *connectcases.ListFieldOptionsInput, optFns ...func(*connectcases.Options)) (*connectcases.ListFieldOptionsOutput, error)
}

// Options configures a Catalog. Zero fields take the defaults.
type Options struct {
	// Domains are loaded by Load at start-up; other domains are loaded when
	// a message first names them.
	Domains []string
	// Refresh is the mean interval of Run's reloads (5m); each interval is
	// drawn uniformly from [0.75, 1.25]×Refresh.
	Refresh time.Duration
	// MinRefreshGap bounds refreshes triggered by unknown names (10s), so a
	// stream of bad messages cannot turn into a stream of ListFields calls.
	MinRefreshGap time.Duration
	// Pacing overrides the token bucket of each operation; the zero value
	// paces at AWS's default quotas.
	Pacing Pacing
	Logger *zap.Logger // nil → no logs
	Now    func() time.Time
}

// Field is one field definition.
type Field struct {
	ID      string
	Name    string
	Type    types.FieldType
	Deleted bool
	// Options are the active option values of a SingleSelect field; nil when
	// the field has none defined, in which case any string is accepted.
	Options map[string]bool
}

// Domain is one domain's fields at one moment; it is never changed after
// it is built, so readers need no lock.
type Domain struct {
	ID       string
	byID     map[string]*Field
	byName   map[string]*Field
	LoadedAt time.Time
}

// Lookup finds a field by id, then by name.
func (d *Domain) Lookup(key string) (*Field, bool) {
	if f, ok := d.byID[key]; ok {
		return f, true
	}
	f, ok := d.byName[key]
	return f, ok
}

// Catalog holds the field definitions of the domains casebridge writes to.
// It is safe for concurrent use.
type Catalog struct {
	api   *paced
	o     Options
	group singleflight.Group
	// rand and after draw and wait out Run's intervals; tests replace them.
	rand  func() float64
	after func(time.Duration) <-chan time.Time

	mu      sync.RWMutex
	domains map[string]*Domain
}

// New returns an empty Catalog; call Load, then Run in a goroutine.
func New(api CasesAPI, o Options) *Catalog {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.MinRefreshGap <= 0 {
		o.MinRefreshGap = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Catalog{api: newPaced(api, o.Pacing, o.Logger), o: o, domains: map[string]*Domain{},
		rand: rand.Float64, after: time.After}
}

// Load loads every configured domain; start-up fails on an error rather
// than run with a catalog that would reject every named field.
func (c *Catalog) Load(ctx context.Context) error {
	for _, id := range c.o.Domains {
		if id == "" {
			continue
		}
		if _, err := c.reload(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Run reloads every known domain about every Refresh interval until ctx
// ends. A failed reload keeps the previous definitions and is logged.
func (c *Catalog) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.after(c.nextRefresh()):
		}
		for _, id := range c.known() {
			if _, err := c.reload(ctx, id); err != nil && ctx.Err() == nil {
				c.o.Logger.Warn("field catalog refresh failed; keeping the previous definitions",
					zap.String("domainId", id), zap.Error(err))
			}
		}
	}
}

// refreshJitter spreads each interval uniformly over [1-j, 1+j]×Refresh:
// instances of a fleet start together, and at a fixed interval they would
// call ListFieldOptions together every time, against one account quota.
// Independent draws drift them apart; the mean interval stays Refresh.
const refreshJitter = 0.25

func (c *Catalog) nextRefresh() time.Duration {
	return time.Duration(float64(c.o.Refresh) * (1 - refreshJitter + 2*refreshJitter*c.rand()))
}

func (c *Catalog) known() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]string, 0, len(c.domains))
	for id := range c.domains {
		ids = append(ids, id)
	}
	return ids
}

// Domain returns the domain's definitions, loading them on first use.
func (c *Catalog) Domain(ctx context.Context, id string) (*Domain, error) {
	c.mu.RLock()
	d := c.domains[id]
	c.mu.RUnlock()
	if d != nil {
		return d, nil
	}
	return c.reload(ctx, id)
}

// refreshIfStale reloads the domain unless it was loaded within
// MinRefreshGap; it returns the definitions to use either way.
func (c *Catalog) refreshIfStale(ctx context.Context, d *Domain) (*Domain, error) {
	if c.o.Now().Sub(d.LoadedAt) < c.o.MinRefreshGap {
		return d, nil
	}
	return c.reload(ctx, d.ID)
}

// reload loads one domain; concurrent reloads of a domain share one load.
func (c *Catalog) reload(ctx context.Context, id string) (*Domain, error) {
	v, err, _ := c.group.Do(id, func() (any, error) {
		d, err := c.load(ctx, id)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.domains[id] = d
		c.mu.Unlock()
		c.o.Logger.Info("field catalog loaded", zap.String("domainId", id), zap.Int("fields", len(d.byID)))
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Domain), nil
}

// maxBatchGetFields is BatchGetField's limit per call.
const maxBatchGetFields = 50

func (c *Catalog) load(ctx context.Context, domainID string) (*Domain, error) {
	d := &Domain{ID: domainID, byID: map[string]*Field{}, byName: map[string]*Field{}, LoadedAt: c.o.Now()}
	var ids []string
	p := connectcases.NewListFieldsPaginator(c.api, &connectcases.ListFieldsInput{DomainId: aws.String(domainID), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("field catalog: ListFields of domain %s: %w", domainID, err)
		}
		for _, s := range page.Fields {
			f := &Field{ID: aws.ToString(s.FieldId), Name: aws.ToString(s.Name), Type: s.Type}
			d.byID[f.ID] = f
			ids = append(ids, f.ID)
		}
	}
	for start := 0; start < len(ids); start += maxBatchGetFields {
		in := &connectcases.BatchGetFieldInput{DomainId: aws.String(domainID)}
		for _, id := range ids[start:min(start+maxBatchGetFields, len(ids))] {
			in.Fields = append(in.Fields, types.FieldIdentifier{Id: aws.String(id)})
		}
		out, err := c.api.BatchGetField(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("field catalog: BatchGetField of domain %s: %w", domainID, err)
		}
		for _, g := range out.Fields {
			if f := d.byID[aws.ToString(g.FieldId)]; f != nil {
				f.Deleted = g.Deleted
				f.Type = g.Type
			}
		}
	}
	for _, f := range d.byID {
		if f.Type == types.FieldTypeSingleSelect {
			opts, err := c.options(ctx, domainID, f.ID)
			if err != nil {
				return nil, err
			}
			f.Options = opts
		}
		// ListFields omits deleted fields (the service and the simulator), so
		// a deleted field is unknown after the next load. One deleted between
		// ListFields and BatchGetField comes back marked deleted: it must not
		// answer to its name, which a new field may have taken.
		if !f.Deleted {
			d.byName[f.Name] = f
		}
	}
	return d, nil
}

func (c *Catalog) options(ctx context.Context, domainID, fieldID string) (map[string]bool, error) {
	var opts map[string]bool
	p := connectcases.NewListFieldOptionsPaginator(c.api, &connectcases.ListFieldOptionsInput{
		DomainId: aws.String(domainID), FieldId: aws.String(fieldID), MaxResults: aws.Int32(100),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("field catalog: ListFieldOptions of field %s in domain %s: %w", fieldID, domainID, err)
		}
		for _, o := range page.Options {
			if opts == nil {
				opts = map[string]bool{}
			}
			if aws.ToBool(o.Active) {
				opts[aws.ToString(o.Value)] = true
			}
		}
	}
	return opts, nil
}

// errUnknown marks a lookup that may succeed after a refresh.
var errUnknown = errors.New("unknown in the catalog")
