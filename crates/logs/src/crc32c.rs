//! CRC-32C (Castagnoli), the checksum TFRecord framing (TensorBoard's event files) uses, and the mask
//! TFRecord puts on it.

/// The Castagnoli polynomial, bit-reflected.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// The CRC of every byte value, for the byte-at-a-time loop.
const TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLYNOMIAL } else { crc >> 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// A CRC-32C taken over bytes that may come in pieces.
#[derive(Clone, Copy)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Crc32c {
        Crc32c(!0)
    }

    /// Takes `bytes` in, after those before.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |crc, &b| TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8));
    }

    /// The CRC of the bytes taken in.
    pub(crate) fn value(self) -> u32 {
        !self.0
    }

    /// The CRC as TFRecord stores it ([`masked`]).
    pub(crate) fn masked(self) -> u32 {
        mask(self.value())
    }
}

/// The CRC-32C of `bytes`.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(bytes);
    crc.value()
}

/// The CRC-32C of `bytes` as TFRecord stores it: rotated and offset, so that a CRC of data holding CRCs
/// stays strong.
pub(crate) fn masked(bytes: &[u8]) -> u32 {
    mask(crc32c(bytes))
}

fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_values_hold() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(masked(b""), 0xA282_EAD8);
    }

    #[test]
    fn a_crc_taken_in_pieces_is_the_crc_of_the_whole() {
        let mut crc = Crc32c::new();
        for piece in [&b"1234"[..], b"", b"5", b"6789"] {
            crc.update(piece);
        }
        assert_eq!(crc.value(), crc32c(b"123456789"));
        assert_eq!(crc.masked(), masked(b"123456789"));
    }
}
