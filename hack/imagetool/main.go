// Command imagetool writes vmroll's container image: one layer made from a root filesystem
// directory, an OCI image config, and an OCI image layout packed into one tar file.
//
// Everything it writes is a function of its inputs: the layer's entries are sorted, their
// times are the given epoch and their owner names are empty, so the same root filesystem and
// flags give the same layer, config and manifest digests.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type options struct {
	rootfs     string
	out        string
	name       string
	tag        string
	epoch      int64
	entrypoint string
	cmd        string
	user       string
	workdir    string
	env        multiFlag
	labels     multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.rootfs, "rootfs", "", "root filesystem directory to pack as the image's only layer")
	flag.StringVar(&o.out, "out", "", "OCI layout tarball to write")
	flag.StringVar(&o.name, "name", "", "full image reference containerd stores the image under")
	flag.StringVar(&o.tag, "tag", "", "the tag, written as org.opencontainers.image.ref.name")
	flag.Int64Var(&o.epoch, "epoch", 0, "SOURCE_DATE_EPOCH: every timestamp in the image")
	flag.StringVar(&o.entrypoint, "entrypoint", "", "entrypoint, words separated by spaces")
	flag.StringVar(&o.cmd, "cmd", "", "default arguments, words separated by spaces")
	flag.StringVar(&o.user, "user", "", "uid:gid the container runs as")
	flag.StringVar(&o.workdir, "workdir", "/", "working directory")
	flag.Var(&o.env, "env", "KEY=VALUE, repeatable")
	flag.Var(&o.labels, "label", "KEY=VALUE, repeatable")
	flag.Parse()
	if o.rootfs == "" || o.out == "" || o.name == "" || o.tag == "" {
		fmt.Fprintln(os.Stderr, "imagetool: -rootfs, -out, -name and -tag are required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "imagetool:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	created := time.Unix(o.epoch, 0).UTC()
	layerTar := o.out + ".layer.tar"
	defer os.Remove(layerTar)
	fmt.Printf("imagetool: packing %s\n", o.rootfs)
	if err := writeLayerTar(o.rootfs, layerTar, created); err != nil {
		return fmt.Errorf("packing the root filesystem: %w", err)
	}
	fmt.Println("imagetool: compressing the layer")
	// The compression level is fixed: the compressed bytes, hence the layer digest, depend on it.
	layer, err := tarball.LayerFromFile(
		layerTar,
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.DefaultCompression),
	)
	if err != nil {
		return err
	}
	img, err := buildImage(o, layer, created)
	if err != nil {
		return err
	}
	fmt.Printf("imagetool: writing %s\n", o.out)
	return writeLayout(img, o)
}

func buildImage(o options, layer v1.Layer, created time.Time) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "vmroll imagetool"},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = v1.Time{Time: created}
	cfg.Architecture = "amd64"
	cfg.OS = "linux"
	cfg.Config.Entrypoint = strings.Fields(o.entrypoint)
	cfg.Config.Cmd = strings.Fields(o.cmd)
	cfg.Config.User = o.user
	cfg.Config.WorkingDir = o.workdir
	cfg.Config.Env = append([]string(nil), o.env...)
	cfg.Config.Labels = map[string]string{}
	for _, label := range o.labels {
		key, value, ok := strings.Cut(label, "=")
		if !ok {
			return nil, fmt.Errorf("label %q is not KEY=VALUE", label)
		}
		cfg.Config.Labels[key] = value
	}
	return mutate.ConfigFile(img, cfg)
}

// writeLayerTar walks the root filesystem in sorted order; hard links point at the first path
// of their inode, so their order is fixed too.
func writeLayerTar(root, out string, mtime time.Time) error {
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	file, err := os.Create(out)
	if err != nil {
		return err
	}
	defer file.Close()
	tw := tar.NewWriter(file)
	seen := map[uint64]string{}
	for _, path := range paths {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if err := addEntry(tw, path, filepath.ToSlash(rel), mtime, seen); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return file.Close()
}

func addEntry(tw *tar.Writer, path, name string, mtime time.Time, seen map[uint64]string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	stat, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no stat information")
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(info.Mode().Perm()),
		Uid:     int(stat.Uid),
		Gid:     int(stat.Gid),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	if info.Mode()&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if info.Mode()&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if info.Mode()&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case info.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return tw.WriteHeader(hdr)
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		return tw.WriteHeader(hdr)
	case info.Mode().IsRegular():
		if stat.Nlink > 1 {
			if first, ok := seen[stat.Ino]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return tw.WriteHeader(hdr)
			}
			seen[stat.Ino] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	default:
		return fmt.Errorf("unsupported file type %s (device nodes and sockets do not belong in an image)", info.Mode().Type())
	}
}

// writeLayout packs an OCI image layout: oci-layout, index.json and the blobs, in a fixed order.
func writeLayout(img v1.Image, o options) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Size:      int64(len(manifest)),
			Digest:    manifestDigest,
			Platform:  &v1.Platform{Architecture: "amd64", OS: "linux"},
			Annotations: map[string]string{
				// containerd (ctr images import, kind load image-archive) names the image by
				// this one; OCI tools read the tag from the second.
				"io.containerd.image.name":          o.name,
				"org.opencontainers.image.ref.name": o.tag,
			},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	file, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer file.Close()
	tw := tar.NewWriter(file)
	epoch := time.Unix(o.epoch, 0).UTC()
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return err
		}
		size, err := layer.Size()
		if err != nil {
			return err
		}
		blob, err := layer.Compressed()
		if err != nil {
			return err
		}
		err = writeFile(tw, "blobs/sha256/"+digest.Hex, size, blob, epoch)
		blob.Close()
		if err != nil {
			return err
		}
	}
	small := []struct {
		name string
		data []byte
	}{
		{"blobs/sha256/" + configDigest.Hex, config},
		{"blobs/sha256/" + manifestDigest.Hex, manifest},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
	}
	for _, entry := range small {
		if err := writeFile(tw, entry.name, int64(len(entry.data)), bytes.NewReader(entry.data), epoch); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return file.Close()
}

func writeFile(tw *tar.Writer, name string, size int64, data io.Reader, epoch time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := io.Copy(tw, data)
	return err
}
