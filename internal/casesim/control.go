package casesim

import (
	"encoding/json"
	"net/http"
	"time"
)

// controlRoutes serves the /casesim/ endpoints that let a separate process
// (benchmarks, fault tests, the demo) steer and inspect the simulator.
func (s *Server) controlRoutes() {
	s.mux.HandleFunc("GET /casesim/stats", func(w http.ResponseWriter, _ *http.Request) {
		writePlainJSON(w, http.StatusOK, s.Stats())
	})
	s.mux.HandleFunc("DELETE /casesim/stats", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /casesim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writePlainJSON(w, http.StatusOK, s.Faults())
	})
	s.mux.HandleFunc("PUT /casesim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		if err := dec.Decode(&f); err != nil {
			writePlainJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		if err := f.Validate(); err != nil {
			writePlainJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		s.SetFaults(f)
		writePlainJSON(w, http.StatusOK, s.Faults())
	})
	s.mux.HandleFunc("GET /casesim/updates", func(w http.ResponseWriter, _ *http.Request) {
		ups := s.AppliedUpdates()
		out := make([]updateJSON, len(ups))
		for i, u := range ups {
			out[i] = toUpdateJSON(u)
		}
		writePlainJSON(w, http.StatusOK, out)
	})
	s.mux.HandleFunc("GET /casesim/domains/{domainId}/cases/{caseId}", func(w http.ResponseWriter, r *http.Request) {
		d, c := r.PathValue("domainId"), r.PathValue("caseId")
		vals, ok := s.CaseFields(d, c)
		if !ok {
			writePlainJSON(w, http.StatusNotFound, map[string]string{"message": "case " + c + " not found in domain " + d})
			return
		}
		fields := make(map[string]wireUnion, len(vals))
		for k, v := range vals {
			fields[k] = unionFromSDK(v)
		}
		writePlainJSON(w, http.StatusOK, map[string]any{"domainId": d, "caseId": c, "fields": fields})
	})
}

type fieldValueJSON struct {
	ID    string    `json:"id"`
	Value wireUnion `json:"value"`
}

type updateJSON struct {
	DomainID    string           `json:"domainId"`
	CaseID      string           `json:"caseId"`
	Fields      []fieldValueJSON `json:"fields"`
	PerformedBy *wireUser        `json:"performedBy,omitempty"`
	At          time.Time        `json:"at"`
}

func toUpdateJSON(u AppliedUpdate) updateJSON {
	j := updateJSON{DomainID: u.DomainID, CaseID: u.CaseID, PerformedBy: userFromSDK(u.PerformedBy), At: u.At,
		Fields: make([]fieldValueJSON, len(u.Fields))}
	for i, f := range u.Fields {
		j.Fields[i] = fieldValueJSON{ID: *f.Id, Value: unionFromSDK(f.Value)}
	}
	return j
}
