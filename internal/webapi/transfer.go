package webapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/store"
)

// agents lists the console's agents, for the transfer picker.
func (a *API) agents(w http.ResponseWriter, r *http.Request, _ store.Agent) {
	all, err := a.chat.Agents(r.Context())
	if err != nil {
		fail(w, a.log, err)
		return
	}
	out := []map[string]string{}
	for _, ag := range all {
		out = append(out, map[string]string{"Id": ag.ID, "Name": ag.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"Agents": out})
}

// transfer hands a chat the agent holds to another agent ({"AgentId"}) or
// back to the queue ({}).
func (a *API) transfer(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	var in struct{ AgentId string }
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil && len(body) > 0 {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": `The body is {"AgentId": "…"}, or {} for the queue.`})
		return
	}
	if err := a.chat.Transfer(r.Context(), agent, r.PathValue("contactId"), in.AgentId); err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

// monitor makes the agent a supervisor of a chat ({"Capabilities":
// ["SILENT_MONITOR", "BARGE"]}, default silent only), as MonitorContact
// does, and answers the participant's token; for an agent MonitorContact
// made a supervisor already, a fresh token for that participant.
func (a *API) monitor(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	var in struct{ Capabilities []string }
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil && len(body) > 0 {
		err = json.Unmarshal(body, &in)
	}
	for _, c := range in.Capabilities {
		if c != chat.MonitorSilent && c != chat.MonitorBarge {
			err = errors.New("unknown capability")
		}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": `The body is {"Capabilities": ["SILENT_MONITOR", "BARGE"]}.`})
		return
	}
	contactID := r.PathValue("contactId")
	out, err := a.chat.Monitor(r.Context(), a.chat.InstanceID(), contactID, agent.ID, in.Capabilities, "")
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ContactId": contactID, "ParticipantId": out.ParticipantID,
		"ParticipantToken": out.ParticipantToken, "Capabilities": out.Capabilities, "Barged": out.Barged})
}

// barge turns the agent's silent monitor of a chat into a participant.
func (a *API) barge(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	if err := a.chat.Barge(r.Context(), agent, r.PathValue("contactId")); err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}
