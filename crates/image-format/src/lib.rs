//! Native, streaming inspection of disk images, the defence Glance added in 2024
//! (CVE-2024-32498): find out what an upload really is, how large a disk it describes, and
//! refuse images that would make a hypervisor read other files.
//!
//! [`Inspector`] is fed the upload chunk by chunk and keeps bounded state: the first
//! [`HEAD_LIMIT`] bytes and the last 512 bytes. [`Inspector::finish`] returns an
//! [`Inspection`]; [`check`] applies the policy for a declared disk format.
//!
//! Detected: qcow2 (v2/v3), QED, VMDK (sparse header or text descriptor), VHD (dynamic
//! header or fixed footer), VHDX, VDI, ISO 9660/UDF, ploop, LUKS; everything else is raw.
//! Unsafe: qcow2 backing files, external data files, unknown incompatible features or
//! versions; VMDK subformats other than monolithicSparse/streamOptimized, descriptor
//! lines it does not understand and extents naming paths; QED and LUKS (not supported as
//! image formats); headers whose sizes do not make sense.

use std::fmt;

/// How many leading bytes are kept: qcow2 and VDI headers, VMDK embedded descriptors
/// (≤ 1 MiB at sector 1), ISO volume descriptors (32 KiB), VHDX region tables (192 KiB)
/// and metadata regions (usually at 1–2 MiB).
pub const HEAD_LIMIT: usize = 4 << 20;
const TAIL: usize = 512;

/// Disk formats, with Glance's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskFormat {
    Raw,
    Qcow2,
    Vmdk,
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    Ploop,
    Aki,
    Ari,
    Ami,
}

impl DiskFormat {
    pub fn parse(s: &str) -> Option<DiskFormat> {
        Some(match s {
            "raw" => DiskFormat::Raw,
            "qcow2" => DiskFormat::Qcow2,
            "vmdk" => DiskFormat::Vmdk,
            "vhd" => DiskFormat::Vhd,
            "vhdx" => DiskFormat::Vhdx,
            "vdi" => DiskFormat::Vdi,
            "iso" => DiskFormat::Iso,
            "ploop" => DiskFormat::Ploop,
            "aki" => DiskFormat::Aki,
            "ari" => DiskFormat::Ari,
            "ami" => DiskFormat::Ami,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vmdk => "vmdk",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Iso => "iso",
            DiskFormat::Ploop => "ploop",
            DiskFormat::Aki => "aki",
            DiskFormat::Ari => "ari",
            DiskFormat::Ami => "ami",
        }
    }
}

impl fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the content is, as far as signatures tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Format(DiskFormat),
    /// Formats that exist but are never acceptable as uploads.
    Qed,
    Luks,
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detected::Format(d) => d.fmt(f),
            Detected::Qed => f.write_str("qed"),
            Detected::Luks => f.write_str("luks"),
        }
    }
}

/// The result of inspecting a whole upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `None` when no known signature was found: raw data.
    pub detected: Option<Detected>,
    /// The size of the disk the image describes, when known.
    pub virtual_size: Option<u64>,
    /// Bytes seen.
    pub actual_size: u64,
    /// Why the image must not be used, when it must not.
    pub unsafe_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("Image content does not match disk_format {declared}: detected {detected}")]
    Mismatch {
        declared: DiskFormat,
        detected: String,
    },
    #[error("Image is unsafe: {0}")]
    Unsafe(String),
}

/// Streaming inspector: feed every chunk of the upload in order, then [`Inspector::finish`].
#[derive(Debug, Default)]
pub struct Inspector {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
}

impl Inspector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if self.head.len() < HEAD_LIMIT {
            let take = (HEAD_LIMIT - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            if self.tail.len() > TAIL {
                let cut = self.tail.len() - TAIL;
                self.tail.drain(..cut);
            }
        }
    }

    pub fn finish(self) -> Inspection {
        inspect(&self.head, &self.tail, self.total)
    }
}

/// Inspect a complete in-memory image.
pub fn inspect_bytes(data: &[u8]) -> Inspection {
    let mut i = Inspector::new();
    i.update(data);
    i.finish()
}

// ---- byte helpers ---------------------------------------------------------------------------

fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

struct Found {
    detected: Detected,
    virtual_size: Option<u64>,
    unsafe_reason: Option<String>,
}

fn found(d: Detected, vs: Option<u64>, why: Option<String>) -> Option<Found> {
    Some(Found {
        detected: d,
        virtual_size: vs,
        unsafe_reason: why,
    })
}

fn inspect(head: &[u8], tail: &[u8], total: u64) -> Inspection {
    let f = qcow2(head)
        .or_else(|| qed(head))
        .or_else(|| luks(head))
        .or_else(|| vmdk(head, total))
        .or_else(|| vhdx(head))
        .or_else(|| vdi(head, total))
        .or_else(|| vhd(head, tail, total))
        .or_else(|| ploop(head))
        .or_else(|| iso(head));
    match f {
        Some(f) => Inspection {
            detected: Some(f.detected),
            virtual_size: f.virtual_size,
            actual_size: total,
            unsafe_reason: f.unsafe_reason,
        },
        None => Inspection {
            detected: None,
            virtual_size: Some(total),
            actual_size: total,
            unsafe_reason: None,
        },
    }
}

// ---- qcow2 ----------------------------------------------------------------------------------

/// Incompatible feature bits qemu knows: dirty (0), corrupt (1), external data file (2),
/// compression type (3). The external data file makes the image read another file.
const QCOW2_DATA_FILE_BIT: u64 = 1 << 2;
const QCOW2_KNOWN_INCOMPATIBLE: u64 = 0b1111;

fn qcow2(h: &[u8]) -> Option<Found> {
    if !h.starts_with(b"QFI\xfb") {
        return None;
    }
    let d = Detected::Format(DiskFormat::Qcow2);
    let (Some(version), Some(bf_offset), Some(size)) = (be32(h, 4), be64(h, 8), be64(h, 24)) else {
        return found(d, None, Some("truncated qcow2 header".into()));
    };
    let why = if bf_offset != 0 {
        Some("qcow2 image has a backing file".to_string())
    } else if version == 3 {
        match be64(h, 72) {
            None => Some("truncated qcow2 v3 header".to_string()),
            Some(f) if f & QCOW2_DATA_FILE_BIT != 0 => {
                Some("qcow2 image has an external data file (data_file)".into())
            }
            Some(f) if f & !QCOW2_KNOWN_INCOMPATIBLE != 0 => Some(format!(
                "qcow2 image has unknown incompatible features {f:#x}"
            )),
            Some(_) => qcow2_extensions(h),
        }
    } else if version == 2 {
        None
    } else {
        Some(format!("unsupported qcow2 version {version}"))
    };
    found(d, Some(size), why)
}

/// qcow2 v3 header extensions: an external data file name (0x44415441) is refused even
/// without the feature bit.
fn qcow2_extensions(h: &[u8]) -> Option<String> {
    let header_len = be32(h, 100)? as usize;
    let mut off = header_len.max(104);
    for _ in 0..64 {
        let typ = be32(h, off)?;
        let len = be32(h, off + 4)? as usize;
        match typ {
            0 => return None,
            0x4441_5441 => return Some("qcow2 image names an external data file".into()),
            _ => {}
        }
        off = off.checked_add(8 + len.div_ceil(8) * 8)?;
    }
    None
}

fn qed(h: &[u8]) -> Option<Found> {
    h.starts_with(b"QED\x00").then(|| {
        found(
            Detected::Qed,
            None,
            Some("QED images are not supported".into()),
        )
    })?
}

fn luks(h: &[u8]) -> Option<Found> {
    h.starts_with(b"LUKS\xba\xbe").then(|| {
        found(
            Detected::Luks,
            None,
            Some("LUKS images are not supported".into()),
        )
    })?
}

// ---- VMDK -----------------------------------------------------------------------------------

const VMDK_DESC_MAX: usize = 1 << 20;

fn vmdk(h: &[u8], total: u64) -> Option<Found> {
    let d = Detected::Format(DiskFormat::Vmdk);
    if h.starts_with(b"KDMV") {
        let (Some(capacity), Some(desc_sec), Some(desc_num)) =
            (le64(h, 12), le64(h, 28), le64(h, 36))
        else {
            return found(d, None, Some("truncated VMDK sparse header".into()));
        };
        let vs = capacity.checked_mul(512);
        if desc_sec != 1 {
            return found(
                d,
                vs,
                Some("VMDK descriptor is not at its expected place".into()),
            );
        }
        let start = 512usize;
        let len = usize::try_from(desc_num.saturating_mul(512))
            .unwrap_or(usize::MAX)
            .min(VMDK_DESC_MAX);
        let end = start.saturating_add(len).min(h.len());
        if end <= start || (end as u64) > total {
            return found(d, vs, Some("VMDK descriptor is missing".into()));
        }
        let desc = &h[start..end];
        let desc = &desc[..desc.iter().position(|&b| b == 0).unwrap_or(desc.len())];
        return found(d, vs, check_vmdk_descriptor(desc).err());
    }
    // A bare text descriptor: it can only point at other files.
    let text = &h[..h.len().min(1024)];
    if text.starts_with(b"# Disk DescriptorFile") {
        return found(
            d,
            None,
            Some("VMDK descriptor files reference external extents".into()),
        );
    }
    None
}

/// Accept only monolithic images whose descriptor we fully understand.
pub fn check_vmdk_descriptor(desc: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(desc)
        .map_err(|_| "VMDK descriptor is not ASCII text".to_string())?
        .to_ascii_lowercase();
    let create_type = text
        .find("createtype=\"")
        .map(|i| i + "createtype=\"".len())
        .and_then(|i| text[i..].find('"').map(|e| &text[i..i + e]))
        .ok_or_else(|| "VMDK descriptor has no createType".to_string())?;
    if create_type != "monolithicsparse" && create_type != "streamoptimized" {
        return Err(format!("unsupported VMDK subformat {create_type}"));
    }
    let mut extents = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("ddb") {
            continue;
        }
        let first = line.split(' ').next().unwrap_or("");
        if matches!(first, "rw" | "rdonly" | "noaccess") {
            if line.contains('/') || line.contains('\\') {
                return Err("VMDK extent names a path".into());
            }
            extents += 1;
            continue;
        }
        match line.split_once('=') {
            Some((k, _)) if !k.trim().contains(' ') => {}
            _ => return Err(format!("unexpected line in VMDK descriptor: {:.60}", line)),
        }
    }
    if extents != 1 {
        return Err(format!(
            "a monolithic VMDK has one extent, this one has {extents}"
        ));
    }
    Ok(())
}

// ---- VHD / VHDX / VDI -----------------------------------------------------------------------

fn vhd(h: &[u8], tail: &[u8], total: u64) -> Option<Found> {
    let d = Detected::Format(DiskFormat::Vhd);
    let footer = if h.starts_with(b"conectix") {
        h
    } else if tail.len() == TAIL && tail.starts_with(b"conectix") && total >= 512 {
        tail
    } else if tail.len() == TAIL && tail[1..].starts_with(b"conectix") {
        // Some tools write a 511-byte footer.
        &tail[1..]
    } else {
        return None;
    };
    match be64(footer, 48) {
        Some(size) => found(d, Some(size), None),
        None => found(d, None, Some("truncated VHD footer".into())),
    }
}

const VHDX_METADATA_GUID: [u8; 16] = [
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e,
];
const VHDX_DISK_SIZE_GUID: [u8; 16] = [
    0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8,
];

fn vhdx(h: &[u8]) -> Option<Found> {
    if !h.starts_with(b"vhdxfile") {
        return None;
    }
    let d = Detected::Format(DiskFormat::Vhdx);
    match vhdx_size(h) {
        Ok(size) => found(d, size, None),
        Err(why) => found(d, None, Some(why)),
    }
}

/// The virtual size from the metadata region; `Ok(None)` when it lies past the head.
fn vhdx_size(h: &[u8]) -> Result<Option<u64>, String> {
    const REGION: usize = 192 * 1024;
    if h.len() < REGION + 16 {
        return Ok(None);
    }
    if h.get(REGION..REGION + 4) != Some(b"regi") {
        return Err("VHDX region table signature is missing".into());
    }
    let count = le32(h, REGION + 8).unwrap_or(0) as usize;
    if count > 2047 {
        return Err("VHDX region table is too large".into());
    }
    let mut meta: Option<(usize, usize)> = None;
    for i in 0..count {
        let e = REGION + 16 + i * 32;
        if h.get(e..e + 16) == Some(&VHDX_METADATA_GUID) {
            let off = usize::try_from(le64(h, e + 16).unwrap_or(0)).unwrap_or(usize::MAX);
            let len = le32(h, e + 24).unwrap_or(0) as usize;
            meta = Some((off, len));
        }
    }
    let Some((moff, _mlen)) = meta else {
        return Err("VHDX has no metadata region".into());
    };
    if h.len() < moff.saturating_add(32) {
        return Ok(None);
    }
    if h.get(moff..moff + 8) != Some(b"metadata") {
        return Err("VHDX metadata signature is missing".into());
    }
    let entries = le16(h, moff + 10).unwrap_or(0) as usize;
    if entries > 2047 {
        return Err("VHDX metadata table is too large".into());
    }
    for i in 0..entries {
        let e = moff + 32 + i * 32;
        if h.get(e..e + 16) == Some(&VHDX_DISK_SIZE_GUID) {
            let item = le32(h, e + 16).unwrap_or(0) as usize;
            return Ok(le64(h, moff.saturating_add(item)));
        }
    }
    Err("VHDX metadata has no virtual disk size".into())
}

fn vdi(h: &[u8], _total: u64) -> Option<Found> {
    if le32(h, 0x40) != Some(0xbeda_107f) {
        return None;
    }
    found(Detected::Format(DiskFormat::Vdi), le64(h, 0x170), None)
}

fn ploop(h: &[u8]) -> Option<Found> {
    (h.starts_with(b"WithoutFreeSpace") || h.starts_with(b"WithouFreSpacExt")).then(|| {
        found(
            Detected::Format(DiskFormat::Ploop),
            le64(h, 36).map(|s| s.saturating_mul(512)),
            None,
        )
    })?
}

// ---- ISO ------------------------------------------------------------------------------------

fn iso(h: &[u8]) -> Option<Found> {
    for off in [0x8000usize, 0x8800, 0x9000] {
        let sig = h.get(off + 1..off + 6)?;
        if sig == b"CD001" || sig == b"NSR02" || sig == b"NSR03" {
            let pvd = 0x8000;
            let vs = if h.get(pvd) == Some(&1) && h.get(pvd + 1..pvd + 6) == Some(b"CD001") {
                match (le32(h, pvd + 80), le16(h, pvd + 128)) {
                    (Some(blocks), Some(bs)) => Some(u64::from(blocks) * u64::from(bs)),
                    _ => None,
                }
            } else {
                None
            };
            return found(Detected::Format(DiskFormat::Iso), vs, None);
        }
    }
    None
}

// ---- policy ---------------------------------------------------------------------------------

/// May content with this inspection be stored under the declared disk format?
pub fn check(declared: DiskFormat, insp: &Inspection) -> Result<(), FormatError> {
    let mismatch = |detected: String| FormatError::Mismatch { declared, detected };
    if let Some(why) = &insp.unsafe_reason {
        return Err(FormatError::Unsafe(why.clone()));
    }
    match (declared, insp.detected) {
        // Raw-like formats: anything that is not a recognised container format (an ISO
        // written raw is still a disk).
        (DiskFormat::Raw | DiskFormat::Aki | DiskFormat::Ari | DiskFormat::Ami, None)
        | (DiskFormat::Raw | DiskFormat::Ami, Some(Detected::Format(DiskFormat::Iso))) => Ok(()),
        (DiskFormat::Raw | DiskFormat::Aki | DiskFormat::Ari | DiskFormat::Ami, Some(d)) => {
            Err(mismatch(d.to_string()))
        }
        (want, Some(Detected::Format(got))) if want == got => Ok(()),
        (_, Some(d)) => Err(mismatch(d.to_string())),
        (_, None) => Err(mismatch("raw".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2_header(version: u32, backing: u64, features: u64) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&version.to_be_bytes());
        h[8..16].copy_from_slice(&backing.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[72..80].copy_from_slice(&features.to_be_bytes());
        h[100..104].copy_from_slice(&104u32.to_be_bytes());
        h
    }

    #[test]
    fn qcow2_good_and_malicious() {
        let ok = inspect_bytes(&qcow2_header(3, 0, 0));
        assert_eq!(ok.detected, Some(Detected::Format(DiskFormat::Qcow2)));
        assert_eq!(ok.virtual_size, Some(1 << 30));
        assert!(check(DiskFormat::Qcow2, &ok).is_ok());
        assert!(
            check(DiskFormat::Raw, &ok).is_err(),
            "a qcow2 uploaded as raw is refused"
        );

        let backing = inspect_bytes(&qcow2_header(3, 0x200, 0));
        assert!(
            matches!(check(DiskFormat::Qcow2, &backing), Err(FormatError::Unsafe(w)) if w.contains("backing"))
        );
        let data_file = inspect_bytes(&qcow2_header(3, 0, QCOW2_DATA_FILE_BIT));
        assert!(
            matches!(check(DiskFormat::Qcow2, &data_file), Err(FormatError::Unsafe(w)) if w.contains("data file"))
        );
        let unknown = inspect_bytes(&qcow2_header(3, 0, 1 << 20));
        assert!(check(DiskFormat::Qcow2, &unknown).is_err());
        assert!(check(DiskFormat::Qcow2, &inspect_bytes(&qcow2_header(2, 0, 0))).is_ok());
        assert!(check(DiskFormat::Qcow2, &inspect_bytes(&qcow2_header(1, 0, 0))).is_err());
        let mut ext = qcow2_header(3, 0, 0);
        ext[104..108].copy_from_slice(&0x4441_5441u32.to_be_bytes());
        ext[108..112].copy_from_slice(&8u32.to_be_bytes());
        assert!(
            check(DiskFormat::Qcow2, &inspect_bytes(&ext)).is_err(),
            "data-file header extension"
        );
        assert!(
            check(DiskFormat::Qcow2, &inspect_bytes(b"QFI\xfb\0\0")).is_err(),
            "truncated"
        );
    }

    #[test]
    fn raw_and_mismatches() {
        let raw = inspect_bytes(&vec![7u8; 100_000]);
        assert_eq!(raw.detected, None);
        assert_eq!(raw.virtual_size, Some(100_000));
        assert!(check(DiskFormat::Raw, &raw).is_ok());
        assert!(check(DiskFormat::Ari, &raw).is_ok());
        assert!(matches!(
            check(DiskFormat::Qcow2, &raw),
            Err(FormatError::Mismatch { .. })
        ));
        assert!(check(DiskFormat::Vmdk, &raw).is_err());
    }

    fn sparse_vmdk(desc: &str) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..4].copy_from_slice(b"KDMV");
        h[12..20].copy_from_slice(&2048u64.to_le_bytes());
        h[28..36].copy_from_slice(&1u64.to_le_bytes());
        h[36..44].copy_from_slice(&4u64.to_le_bytes());
        h[512..512 + desc.len()].copy_from_slice(desc.as_bytes());
        h
    }

    #[test]
    fn vmdk_descriptors() {
        let good = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\n# Extent description\nRW 2048 SPARSE \"disk.vmdk\"\n\nddb.virtualHWVersion = \"4\"\n";
        let i = inspect_bytes(&sparse_vmdk(good));
        assert_eq!(i.detected, Some(Detected::Format(DiskFormat::Vmdk)));
        assert_eq!(i.virtual_size, Some(2048 * 512));
        assert!(check(DiskFormat::Vmdk, &i).is_ok(), "{i:?}");
        let two = good.replace(
            "RW 2048 SPARSE \"disk.vmdk\"",
            "RW 2048 SPARSE \"disk.vmdk\"\nRW 2048 FLAT \"other.vmdk\" 0",
        );
        assert!(check(DiskFormat::Vmdk, &inspect_bytes(&sparse_vmdk(&two))).is_err());
        let path = good.replace("\"disk.vmdk\"", "\"/etc/shadow\"");
        assert!(check(DiskFormat::Vmdk, &inspect_bytes(&sparse_vmdk(&path))).is_err());
        let flat = good.replace("monolithicSparse", "monolithicFlat");
        assert!(check(DiskFormat::Vmdk, &inspect_bytes(&sparse_vmdk(&flat))).is_err());
        let junk = good.replace("version=1", "include /etc/passwd");
        assert!(check(DiskFormat::Vmdk, &inspect_bytes(&sparse_vmdk(&junk))).is_err());
        let text = inspect_bytes(good.as_bytes());
        assert!(
            check(DiskFormat::Vmdk, &text).is_err(),
            "a bare descriptor file"
        );
    }

    #[test]
    fn chunking_does_not_matter() {
        let mut data = qcow2_header(3, 0x200, 0);
        data.extend(vec![1u8; 3000]);
        let whole = inspect_bytes(&data);
        for size in [1usize, 7, 511, 513, 4096] {
            let mut i = Inspector::new();
            for c in data.chunks(size) {
                i.update(c);
            }
            assert_eq!(i.finish(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn vhd_fixed_footer_and_iso_and_vdi() {
        let mut fixed = vec![0u8; 4096 + 512];
        let f = fixed.len() - 512;
        fixed[f..f + 8].copy_from_slice(b"conectix");
        fixed[f + 48..f + 56].copy_from_slice(&4096u64.to_be_bytes());
        let i = inspect_bytes(&fixed);
        assert_eq!(i.detected, Some(Detected::Format(DiskFormat::Vhd)));
        assert_eq!(i.virtual_size, Some(4096));

        let mut iso = vec![0u8; 0x9000];
        iso[0x8000] = 1;
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        iso[0x8000 + 80..0x8000 + 84].copy_from_slice(&100u32.to_le_bytes());
        iso[0x8000 + 128..0x8000 + 130].copy_from_slice(&2048u16.to_le_bytes());
        let i = inspect_bytes(&iso);
        assert_eq!(i.detected, Some(Detected::Format(DiskFormat::Iso)));
        assert_eq!(i.virtual_size, Some(204_800));
        assert!(check(DiskFormat::Iso, &i).is_ok());
        assert!(check(DiskFormat::Raw, &i).is_ok());
        assert!(check(DiskFormat::Qcow2, &i).is_err());

        let mut vdi = vec![0u8; 512];
        vdi[0x40..0x44].copy_from_slice(&0xbeda_107fu32.to_le_bytes());
        vdi[0x170..0x178].copy_from_slice(&(1u64 << 20).to_le_bytes());
        assert_eq!(inspect_bytes(&vdi).virtual_size, Some(1 << 20));
        assert!(check(DiskFormat::Vdi, &inspect_bytes(&vdi)).is_ok());
    }

    #[test]
    fn unsupported_formats_are_refused() {
        assert!(check(DiskFormat::Raw, &inspect_bytes(b"QED\0rest of header")).is_err());
        assert!(check(DiskFormat::Raw, &inspect_bytes(b"LUKS\xba\xbe\0\x01")).is_err());
    }
}
