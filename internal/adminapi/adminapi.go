// Package adminapi is Parley's administrators' HTTP API: audit exports and
// erasure. Requests are signed with SigV4 by the Connect API's keys
// (service "connect"), so whoever may drive the Connect API may use it.
package adminapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/audit"
	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/sigv4"
)

// Domain is what the API needs of the chat domain.
type Domain interface {
	audit.Source
	EndedContacts(ctx context.Context, after, before time.Time) ([]string, error)
	Erase(ctx context.Context, contactID, reason string) (chat.Tombstone, error)
}

// API serves /admin/v1/.
type API struct {
	d        Domain
	verifier *sigv4.Verifier
	log      *slog.Logger
}

// New returns the API.
func New(d Domain, v *sigv4.Verifier, log *slog.Logger) *API {
	return &API{d: d, verifier: v, log: log}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /admin/v1/export", a.signed(a.export))
	mux.Handle("POST /admin/v1/contacts/{ContactId}/erase", a.signed(a.erase))
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte) error

func (a *API) signed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		awswire.RequestID(w)
		// What can be checked without the body is, before it is read, as
		// on the Connect API.
		if err := a.verifier.CheckHeaders(r); err != nil {
			a.log.Warn("admin API: authentication failed", "remote", r.RemoteAddr, "err", err)
			awswire.WriteError(w, a.log, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, awswire.MaxBodyBytes))
		if err != nil {
			awswire.WriteError(w, a.log, awswire.Validation("Could not read the request body (at most %d bytes).", awswire.MaxBodyBytes))
			return
		}
		if err := a.verifier.Verify(r, body); err != nil {
			a.log.Warn("admin API: authentication failed", "remote", r.RemoteAddr, "err", err)
			awswire.WriteError(w, a.log, err)
			return
		}
		if err := h(w, r, body); err != nil {
			awswire.WriteError(w, a.log, wire(err))
		}
	})
}

// wire maps domain errors to typed answers.
func wire(err error) error {
	var e *chat.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case chat.NotFound:
			return awswire.Errorf(http.StatusNotFound, "ResourceNotFoundException", "%s", e.Message)
		case chat.Invalid:
			return awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "%s", e.Message)
		}
	}
	return err
}

// export streams an audit archive: of one contact (ContactId), or of the
// contacts that ended in a period (EndedAfter, EndedBefore, RFC 3339).
func (a *API) export(w http.ResponseWriter, r *http.Request, _ []byte) error {
	q := r.URL.Query()
	ids, err := Select(r.Context(), a.d, q.Get("ContactId"), q.Get("EndedAfter"), q.Get("EndedBefore"))
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		if _, err := a.d.Record(r.Context(), ids[0]); err != nil {
			return err // before the status is sent: a typed error
		}
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="parley-export.zip"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Past this point the status is sent: an archive cut short by an error
	// lacks its manifest, and the verifier refuses it.
	if _, err := audit.Write(r.Context(), w, a.d, ids); err != nil {
		a.log.Error("admin API: export cut short", "err", err)
		panic(http.ErrAbortHandler) // drop the connection: the client sees a broken transfer
	}
	return nil
}

// Select resolves what an export covers.
func Select(ctx context.Context, d interface {
	EndedContacts(ctx context.Context, after, before time.Time) ([]string, error)
}, contactID, endedAfter, endedBefore string) ([]string, error) {
	if contactID != "" {
		if endedAfter != "" || endedBefore != "" {
			return nil, awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "Give either a ContactId or a period, not both.")
		}
		return []string{contactID}, nil
	}
	if endedAfter == "" && endedBefore == "" {
		return nil, awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "Give a ContactId, or EndedAfter and/or EndedBefore (RFC 3339).")
	}
	after, before := time.Unix(0, 0), time.Now().Add(time.Hour)
	for _, p := range []struct {
		name, v string
		t       *time.Time
	}{{"EndedAfter", endedAfter, &after}, {"EndedBefore", endedBefore, &before}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, p.v)
		if err != nil {
			return nil, awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "%s must be an RFC 3339 time such as 2026-11-01T00:00:00Z.", p.name)
		}
		*p.t = t
	}
	if !after.Before(before) {
		return nil, awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "EndedAfter must be before EndedBefore.")
	}
	return d.EndedContacts(ctx, after, before)
}

func (a *API) erase(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in struct{ Reason string }
	if err := awswire.Unmarshal(body, &in); err != nil {
		return err
	}
	if utf8.RuneCountInString(in.Reason) > 1024 {
		return awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", "Reason must be at most 1024 characters.")
	}
	t, err := a.d.Erase(r.Context(), r.PathValue("ContactId"), in.Reason)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, map[string]any{"ContactId": t.ContactID, "ErasedAt": t.ErasedAt.UTC().Format(time.RFC3339), "Reason": t.Reason})
	return nil
}
