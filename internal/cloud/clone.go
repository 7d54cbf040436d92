package cloud

import "time"

// Clone returns a deep copy of o, so an operation served to several
// callers (from a shared list) can be changed by each without races.
func (o *Operation) Clone() *Operation {
	if o == nil {
		return nil
	}
	c := *o
	if o.Progress != nil {
		p := *o.Progress
		c.Progress = &p
	}
	c.StartTime = cloneTime(o.StartTime)
	c.CompletionTime = cloneTime(o.CompletionTime)
	c.Steps = cloneSteps(o.Steps)
	if o.UnknownStatuses != nil {
		c.UnknownStatuses = append([]string(nil), o.UnknownStatuses...)
	}
	if o.Resources != nil {
		c.Resources = append([]Resource(nil), o.Resources...)
	}
	return &c
}

func cloneSteps(steps []Step) []Step {
	if steps == nil {
		return nil
	}
	out := make([]Step, len(steps))
	for i, s := range steps {
		s.StartTime = cloneTime(s.StartTime)
		s.CompletionTime = cloneTime(s.CompletionTime)
		s.SubSteps = cloneSteps(s.SubSteps)
		out[i] = s
	}
	return out
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}
