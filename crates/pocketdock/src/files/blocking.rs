//! The blocking twins of the file operations: the async ones driven on the shared runtime.

use std::path::Path;

use crate::error::Result;
use crate::runtime::block_on;

impl crate::blocking::Container {
    /// Writes `data` to `path`, creating missing parents (see [`crate::aio::Container::write_file`]).
    pub fn write_file(&self, path: &str, data: impl AsRef<[u8]> + Send) -> Result<()> {
        block_on(self.as_async().write_file(path, data))
    }

    /// The content of the file at `path` (see [`crate::aio::Container::read_file`]).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        block_on(self.as_async().read_file(path))
    }

    /// The names in a directory, directories ending with `/` (see
    /// [`crate::aio::Container::list_files`]).
    pub fn list_files(&self, path: Option<&str>) -> Result<Vec<String>> {
        block_on(self.as_async().list_files(path))
    }

    /// Copies a host file or tree into the container, `cp -r` style (see
    /// [`crate::aio::Container::push`]).
    pub fn push(&self, host_src: impl AsRef<Path>, container_dest: &str) -> Result<()> {
        let src = host_src.as_ref();
        block_on(self.as_async().push(src, container_dest))
    }

    /// Copies a container file or tree to the host, `cp -r` style (see
    /// [`crate::aio::Container::pull`]).
    pub fn pull(&self, container_src: &str, host_dest: impl AsRef<Path>) -> Result<()> {
        let dest = host_dest.as_ref();
        block_on(self.as_async().pull(container_src, dest))
    }
}
