package session

import (
	"errors"
	"strings"
)

// Error is a failure to start a session, in the shape editors show: a
// message, the chain of causes and a hint (the official CLI's miette JSON
// report: message, causes, help).
type Error struct {
	Message string
	Help    string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Causes lists the messages of the wrapped errors, outermost first, without
// repeating text a cause already contains.
func (e *Error) Causes() []string {
	var out []string
	for err := e.Err; err != nil; {
		msg := err.Error()
		next := errors.Unwrap(err)
		if next != nil {
			// Keep only this level's own words ("x: <next>" -> "x").
			msg = strings.TrimSuffix(strings.TrimSuffix(msg, next.Error()), ": ")
		}
		if msg != "" {
			out = append(out, msg)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				out = append(out, e.Error())
			}
			break
		}
		err = next
	}
	return out
}

func fail(msg, help string, err error) *Error { return &Error{Message: msg, Help: help, Err: err} }
