package api

import "encoding/json"

// withReadiness adds "ready" to each container's instanceView in a
// serialised container group — a field ACI does not have, which ACI's
// clients ignore and vnode's agent reads for the pod's Ready condition.
// Containers missing from ready get false.
func withReadiness(group []byte, ready map[string]bool) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(group, &doc); err != nil {
		return nil, err
	}
	props, _ := doc["properties"].(map[string]any)
	containers, _ := props["containers"].([]any)
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		cp, _ := cm["properties"].(map[string]any)
		if iv, ok := cp["instanceView"].(map[string]any); ok {
			iv["ready"] = ready[name]
		}
	}
	return json.Marshal(doc)
}
