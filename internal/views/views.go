// Package views serves DescribeView: step-by-step guide views are JSON files
// in a folder, one per view, found by a ViewToken that is the file's name
// without ".json".
package views

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
)

// View is the participant service's View shape.
type View struct {
	Id      string  `json:"Id"`
	Arn     string  `json:"Arn,omitempty"`
	Name    string  `json:"Name,omitempty"`
	Version int     `json:"Version"`
	Content Content `json:"Content"`
}

// Content is a view's template, input schema and actions.
type Content struct {
	InputSchema string   `json:"InputSchema,omitempty"`
	Template    string   `json:"Template,omitempty"`
	Actions     []string `json:"Actions,omitempty"`
}

var viewID = regexp.MustCompile(`^[a-zA-Z0-9_\-:/$]{1,500}$`)

// Catalog is the set of views, by token.
type Catalog map[string]View

// Load reads every *.json file of dir. A missing dir is an empty catalog; a
// malformed view is an error, so that a mistake shows at start-up.
func Load(dir string) (Catalog, error) {
	c := Catalog{}
	if dir == "" {
		return c, nil
	}
	fsys := os.DirFS(dir)
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var v View
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("view %s: %w", name, err)
		}
		token := strings.TrimSuffix(path.Base(name), ".json")
		if v.Id == "" {
			v.Id = token
		}
		if !viewID.MatchString(v.Id) {
			return nil, fmt.Errorf("view %s: Id %q must match %s", name, v.Id, viewID)
		}
		if v.Name == "" {
			v.Name = token
		}
		c[token] = v
	}
	return c, nil
}
