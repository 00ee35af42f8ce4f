package spec

import "errors"

func (d *Duration) setScalar(s string) error { return d.UnmarshalText([]byte(s)) }

func (p *Percent) setScalar(s string) error {
	v, err := ParsePercent(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (q *Quantity) setScalar(s string) error { return q.UnmarshalText([]byte(s)) }

// setShort reads `onFailure: rollback`.
func (f *Failure) setShort(s string) error {
	f.Action = FailureAction(s)
	return nil
}

// setShort reads `traffic: 10%`.
func (t *TrafficStep) setShort(s string) error { return t.Weight.setScalar(s) }

// setShort reads `wait: 30s`.
func (w *WaitStep) setShort(s string) error { return w.Duration.setScalar(s) }

// errInlineSecret rejects a credential written inline. It never repeats the value.
var errInlineSecret = errors.New("credentials must be references, not inline values: " +
	"write {env: VARIABLE_NAME}, {file: /path/to/secret} or {secret: {name: NAME, key: KEY}} (the value given is not shown)")

// setShort rejects `apiKey: abc123`.
func (r *SecretRef) setShort(string) error { return errInlineSecret }

// setShort reads `LOG_LEVEL: debug`.
func (e *EnvValue) setShort(s string) error {
	e.Value = s
	return nil
}
