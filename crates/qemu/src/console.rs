//! The serial console log QEMU appends to (`logappend=on`, so O_APPEND): rotated by
//! copy-and-truncate, which QEMU tolerates, keeping one older file `PATH.0`.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".0");
    PathBuf::from(p)
}

/// When the log is larger than `max_bytes`, copy it to `PATH.0` (replacing it) and
/// truncate it. Returns whether it rotated. A missing log is not an error.
pub fn rotate_console_log(path: &Path, max_bytes: u64) -> io::Result<bool> {
    let size = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if size <= max_bytes {
        return Ok(false);
    }
    fs::copy(path, rotated(path))?;
    fs::OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

/// Read at most the last `max` bytes of a file (lossy UTF-8); missing: empty.
fn tail_bytes(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    if len > max {
        f.seek(SeekFrom::Start(len - max))?;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The console text: `PATH.0` then `PATH`, the last `lines` lines when given. Each file
/// is read up to 4 MiB from its end.
pub fn read_console_log(path: &Path, lines: Option<usize>) -> io::Result<String> {
    const MAX: u64 = 4 << 20;
    let mut data = tail_bytes(&rotated(path), MAX)?;
    data.extend(tail_bytes(path, MAX)?);
    // Guests write CRLF on the serial line.
    let text = String::from_utf8_lossy(&data).replace("\r\n", "\n");
    Ok(match lines {
        Some(n) => {
            let all: Vec<&str> = text.lines().collect();
            let mut s = all[all.len().saturating_sub(n)..].join("\n");
            if !s.is_empty() {
                s.push('\n');
            }
            s
        }
        None => text,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rotation_keeps_one_old_file_and_reading_joins_them() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        assert_eq!(read_console_log(&log, None).unwrap(), "");
        assert!(!rotate_console_log(&log, 10).unwrap());
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        f.write_all(b"line one\r\nline two\r\n").unwrap();
        assert!(rotate_console_log(&log, 10).unwrap());
        assert_eq!(fs::metadata(&log).unwrap().len(), 0);
        // the writer (QEMU) keeps appending to the truncated file
        f.write_all(b"line three\n").unwrap();
        let all = read_console_log(&log, None).unwrap();
        assert_eq!(all, "line one\nline two\nline three\n");
        assert_eq!(
            read_console_log(&log, Some(2)).unwrap(),
            "line two\nline three\n"
        );
        assert!(!rotate_console_log(&log, 1000).unwrap());
    }
}
