package validate

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/gitrepo"
	"github.com/vnode-io/vnode/internal/instances/secretfiles"
)

// volumes checks the group's volumes and records their names for the
// containers' volume mounts.
func (c *checker) volumes(vols []*aci.Volume) *errdefs.Error {
	c.volumeNames = map[string]bool{}
	if limit := c.lim.VolumesPerGroup; limit > 0 && len(vols) > limit {
		return errdefs.InvalidField(CodeTooManyVolumes, "properties.volumes",
			"The container group has %d volumes; at most %d are allowed. Remove volumes.", len(vols), limit)
	}
	for i, v := range vols {
		at := fmt.Sprintf("properties.volumes[%d]", i)
		if v == nil {
			v = &aci.Volume{}
		}
		if err := checkVolume(v, at); err != nil {
			return err
		}
		name := str(v.Name)
		if c.volumeNames[name] {
			return errdefs.InvalidField(CodeDuplicateVolumeName, at+".name",
				"The volume name '%s' is used more than once. Give each volume its own name.", name)
		}
		c.volumeNames[name] = true
	}
	return nil
}

func checkVolume(v *aci.Volume, at string) *errdefs.Error {
	name := str(v.Name)
	if p := volumeNameProblem(name); p != "" {
		return errdefs.InvalidField(CodeInvalidVolumeName, at+".name",
			"The volume name '%s' is invalid: it %s. A volume name has 5 to 63 lowercase letters, digits and '-' "+
				"and does not start or end with '-' (e.g. 'my-volume').", name, p)
	}
	sources := volumeSources(v)
	if len(sources) != 1 {
		has := "none"
		if len(sources) > 1 {
			has = strings.Join(sources, " and ")
		}
		return errdefs.InvalidField(CodeInvalidVolumeSource, at,
			"The volume '%s' must have exactly one source of azureFile, emptyDir, secret or gitRepo; it has %s.", name, has)
	}
	switch sources[0] {
	case "azureFile":
		return checkAzureFile(v.AzureFile, name, at+".azureFile")
	case "secret":
		return checkSecret(v.Secret, name, at+".secret")
	case "gitRepo":
		return checkGitRepo(v.GitRepo, name, at+".gitRepo")
	}
	return nil
}

// volumeSources names the sources a volume sets.
func volumeSources(v *aci.Volume) []string {
	var s []string
	if v.AzureFile != nil {
		s = append(s, "azureFile")
	}
	if v.EmptyDir != nil {
		s = append(s, "emptyDir")
	}
	if v.Secret != nil {
		s = append(s, "secret")
	}
	if v.GitRepo != nil {
		s = append(s, "gitRepo")
	}
	return s
}

func checkAzureFile(f *aci.AzureFileVolume, name, at string) *errdefs.Error {
	if strings.TrimSpace(str(f.ShareName)) == "" {
		return errdefs.InvalidField(CodeInvalidAzureFileVolume, at+".shareName",
			"The Azure Files volume '%s' has no shareName. Set the name of the file share to mount.", name)
	}
	if strings.TrimSpace(str(f.StorageAccountName)) == "" {
		return errdefs.InvalidField(CodeInvalidAzureFileVolume, at+".storageAccountName",
			"The Azure Files volume '%s' has no storageAccountName. Set the storage account that holds the share.", name)
	}
	return nil
}

// checkSecret checks that each file of a secret volume has a name that
// secretfiles.CheckNames takes (a plain name or, beyond ACI, a relative
// path such as "path/to/file", written as a tree) and base64 content;
// files are checked in name order.
func checkSecret(files map[string]*string, name, at string) *errdefs.Error {
	var nameErr *secretfiles.NameError
	if errors.As(secretfiles.CheckNames(files), &nameErr) {
		return errdefs.InvalidField(CodeInvalidSecretVolume, at+"."+nameErr.Name,
			"The secret volume '%s' has a file named '%s', which %s; %s.", name, clip(nameErr.Name),
			nameErr.Problem, secretfiles.Rule)
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if files[k] == nil {
			return errdefs.InvalidField(CodeInvalidSecretVolume, at+"."+k,
				"The file '%s' of secret volume '%s' has no content. Set it to the base64-encoded content.", k, name)
		}
		if _, err := base64.StdEncoding.DecodeString(*files[k]); err != nil {
			return errdefs.InvalidField(CodeInvalidSecretVolume, at+"."+k,
				"The content of file '%s' of secret volume '%s' is not valid base64. Encode it with standard base64.", k, name)
		}
	}
	return nil
}

func checkGitRepo(r *aci.GitRepoVolume, name, at string) *errdefs.Error {
	repo := str(r.Repository)
	if strings.TrimSpace(repo) == "" {
		return errdefs.InvalidField(CodeInvalidGitRepoVolume, at+".repository",
			"The git repository volume '%s' has no repository. Set the URL of the repository to clone.", name)
	}
	fields := []struct {
		field, value, hint string
		check              func(string) error
	}{
		{"repository", repo, " Give a http, https, git or ssh URL.", gitrepo.CheckRepository},
		{"revision", str(r.Revision), " Give a commit hash, branch or tag.", gitrepo.CheckRevision},
		{"directory", str(r.Directory), "", gitrepo.CheckDirectory},
	}
	for _, f := range fields {
		if err := f.check(f.value); err != nil {
			return errdefs.InvalidField(CodeInvalidGitRepoVolume, at+"."+f.field,
				"The %s '%s' of git repository volume '%s' is not allowed: %v.%s", f.field, f.value, name, err, f.hint)
		}
	}
	return nil
}
