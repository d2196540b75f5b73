//! Building profile images (Dockerfiles shipped inside the library), and moving images between
//! machines without a registry: export to `.tar`/`.tar.gz`, import from either.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::profile::{resolve_profile, ProfileInfo};

/// Every file of every profile's build context, compiled into the library so that a build
/// never depends on a source checkout.
static PROFILE_FILES: &[(&str, &str, &[u8])] = &[
    (
        "minimal-python",
        "Dockerfile",
        include_bytes!("../images/minimal-python/Dockerfile"),
    ),
    (
        "minimal-python",
        "demo/README.md",
        include_bytes!("../images/minimal-python/demo/README.md"),
    ),
    (
        "minimal-python",
        "demo/index.html",
        include_bytes!("../images/minimal-python/demo/index.html"),
    ),
    (
        "minimal-python",
        "demo/serve.py",
        include_bytes!("../images/minimal-python/demo/serve.py"),
    ),
    (
        "minimal-node",
        "Dockerfile",
        include_bytes!("../images/minimal-node/Dockerfile"),
    ),
    (
        "minimal-bun",
        "Dockerfile",
        include_bytes!("../images/minimal-bun/Dockerfile"),
    ),
    (
        "dev",
        "Dockerfile",
        include_bytes!("../images/dev/Dockerfile"),
    ),
    (
        "agent",
        "Dockerfile",
        include_bytes!("../images/agent/Dockerfile"),
    ),
    (
        "embedded",
        "Dockerfile",
        include_bytes!("../images/embedded/Dockerfile"),
    ),
];

impl ProfileInfo {
    /// The profile's Dockerfile.
    pub fn dockerfile(&self) -> &'static str {
        self.files()
            .find(|(path, _)| *path == "Dockerfile")
            .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }

    /// The files of the profile's build context: `(relative path, contents)`.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &'static [u8])> + '_ {
        PROFILE_FILES
            .iter()
            .filter(move |(profile, _, _)| *profile == self.name)
            .map(|(_, path, bytes)| (*path, *bytes))
    }
}

/// Builds a profile's image (tag `pocketdock/<profile>`) through the engine's build API;
/// `progress` gets the build output line by line. Returns the tag.
pub async fn build_profile(
    name: &str,
    socket: Option<&Path>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<String> {
    let profile = resolve_profile(name)?;
    let context = context_tar(profile.files().map(|(p, b)| (p.to_string(), b.to_vec())))?;
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    engine
        .build_image(profile.image_tag, context, progress)
        .await?;
    Ok(profile.image_tag.to_string())
}

/// Builds `tag` from a directory holding a `Dockerfile` (and whatever it copies).
pub async fn build_image_from_dir(
    dir: &Path,
    tag: &str,
    socket: Option<&Path>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    if !dir.join("Dockerfile").is_file() {
        return Err(Error::invalid(format!(
            "{} has no Dockerfile",
            dir.display()
        )));
    }
    let dockerfile =
        std::fs::read_to_string(dir.join("Dockerfile")).map_err(|e| Error::host_file(dir, e))?;
    let files = walk(dir, dir)?;
    let context = context_tar(files.into_iter())?;
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    require_base_images(&engine, &dockerfile).await?;
    engine.build_image(tag, context, progress).await
}

/// Nothing is ever pulled: a missing base image is named at once, instead of a build that
/// waits on an unreachable registry.
async fn require_base_images(engine: &Engine, dockerfile: &str) -> Result<()> {
    for image in base_images(dockerfile) {
        if !engine.image_exists(&image).await? {
            return Err(Error::ImageNotFound { image });
        }
    }
    Ok(())
}

/// The `FROM` images of a Dockerfile that must exist locally: not `scratch`, not an earlier
/// stage (`FROM x AS stage`), not one built from `ARG`s.
fn base_images(dockerfile: &str) -> Vec<String> {
    let mut stages = Vec::new();
    let mut images = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let Some(image) = words.find(|w| !w.starts_with("--")) else {
            continue;
        };
        let is_stage = stages.contains(&image.to_ascii_lowercase());
        if image != "scratch"
            && !image.contains('$')
            && !is_stage
            && !images.iter().any(|i| i == image)
        {
            images.push(image.to_string());
        }
        if let (Some(as_), Some(stage)) = (words.next(), words.next()) {
            if as_.eq_ignore_ascii_case("AS") {
                stages.push(stage.to_ascii_lowercase());
            }
        }
    }
    images
}

/// Writes the images into one archive at `dest`: gzip-compressed if it ends in `.gz`.
/// Returns the bytes written.
pub async fn export_images(images: &[&str], dest: &Path, socket: Option<&Path>) -> Result<u64> {
    if images.is_empty() {
        return Err(Error::invalid("nothing to export: name at least one image"));
    }
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    for image in images {
        if !engine.image_exists(image).await? {
            return Err(Error::ImageNotFound {
                image: image.to_string(),
            });
        }
    }
    let host_err = |e: std::io::Error| Error::host_file(dest, e);
    let partial = dest.with_extension("partial");
    let mut file = tokio::fs::File::create(&partial).await.map_err(host_err)?;
    let mut gzip =
        is_gz(dest).then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut chunks = std::pin::pin!(engine.export_images(images));
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let out: &[u8] = match gzip.as_mut() {
            Some(gz) => {
                gz.write_all(&chunk).map_err(host_err)?;
                gz.get_ref()
            }
            None => &chunk,
        };
        file.write_all(out).await.map_err(host_err)?;
        written += out.len() as u64;
        if let Some(gz) = gzip.as_mut() {
            gz.get_mut().clear();
        }
    }
    if let Some(gz) = gzip {
        let tail = gz.finish().map_err(host_err)?;
        file.write_all(&tail).await.map_err(host_err)?;
        written += tail.len() as u64;
    }
    file.flush().await.map_err(host_err)?;
    drop(file);
    // Only a complete archive gets the name asked for.
    tokio::fs::rename(&partial, dest).await.map_err(host_err)?;
    Ok(written)
}

/// Loads every image of an archive made by [`export_images`] (or `docker save`), `.tar` or
/// `.tar.gz` (recognised by content). Returns the engine's report (e.g. "Loaded image: …").
pub async fn import_images(src: &Path, socket: Option<&Path>) -> Result<Vec<String>> {
    let mut file = std::fs::File::open(src).map_err(|e| Error::host_file(src, e))?;
    let mut magic = [0u8; 2];
    let gz = std::io::Read::read(&mut file, &mut magic).map_err(|e| Error::host_file(src, e))? == 2
        && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(src).map_err(|e| Error::host_file(src, e))?;
    let reader: Box<dyn std::io::Read + Send> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    engine.load_images(read_in_chunks(reader)).await
}

/// A blocking reader as a stream of chunks, read on a thread of its own.
fn read_in_chunks(
    mut reader: Box<dyn std::io::Read + Send>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    std::thread::spawn(move || loop {
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz" || e == "tgz")
}

/// A build context in memory: contexts are a Dockerfile and a few small files.
fn context_tar(files: impl Iterator<Item = (String, Vec<u8>)>) -> Result<Bytes> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, &path, bytes.as_slice())
            .map_err(|e| Error::invalid(format!("build context file {path}: {e}")))?;
    }
    tar.into_inner()
        .map(Bytes::from)
        .map_err(|e| Error::invalid(format!("build context: {e}")))
}

fn walk(root: &Path, dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::host_file(dir, e))? {
        let path = entry.map_err(|e| Error::host_file(dir, e))?.path();
        if path.is_dir() {
            files.extend(walk(root, &path)?);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .to_string();
            files.push((
                rel,
                std::fs::read(&path).map_err(|e| Error::host_file(&path, e))?,
            ));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::list_profiles;

    #[test]
    fn every_profile_ships_its_dockerfile() {
        for p in list_profiles() {
            assert!(p.dockerfile().contains("USER sandbox"), "{}", p.name);
            assert!(
                p.dockerfile().contains("WORKDIR /home/sandbox"),
                "{}",
                p.name
            );
        }
        let python = resolve_profile("minimal-python").unwrap();
        assert!(python.files().any(|(p, _)| p == "demo/serve.py"));
    }

    #[test]
    fn base_images_are_the_external_froms() {
        let dockerfile = "FROM --platform=linux/amd64 alpine:3.21 AS build\nRUN make\nFROM build\nFROM scratch\nfrom python:3.12-slim\nARG X\nFROM img:$X\n";
        assert_eq!(base_images(dockerfile), ["alpine:3.21", "python:3.12-slim"]);
        assert_eq!(
            base_images(resolve_profile("minimal-python").unwrap().dockerfile()),
            ["alpine:3.21"]
        );
    }

    #[test]
    fn context_tar_holds_the_files() {
        let tar = context_tar(vec![("Dockerfile".to_string(), b"FROM x\n".to_vec())].into_iter())
            .unwrap();
        let mut archive = tar::Archive::new(tar.as_ref());
        let names: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile"]);
    }
}
