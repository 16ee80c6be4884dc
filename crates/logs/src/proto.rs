//! Protocol Buffers' wire format, as far as reading TensorBoard's events needs: a message is a run of
//! fields, each a key (field number and wire type) and a value of that wire type.

/// One field's value, by wire type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in order; a malformed field ends them with an error.
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The fields of the message `bytes`.
pub(crate) fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes, at: 0 }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.at) else {
                return Err("a varint runs past the message's end".into());
            };
            self.at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint is longer than ten bytes".into())
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], String> {
        let left = self.bytes.len() - self.at;
        match usize::try_from(len) {
            Ok(len) if len <= left => {
                self.at += len;
                Ok(&self.bytes[self.at - len..self.at])
            }
            _ => Err(format!("a field of {len} bytes runs past the message's end")),
        }
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), String> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes taken"))),
            2 => {
                let len = self.varint()?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes taken"))),
            wire => return Err(format!("field {} has wire type {wire}, which no event uses", key >> 3)),
        };
        Ok((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.at = self.bytes.len();
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wire_type_reads() {
        // 1: varint 300; 2: fixed64 1; 3: bytes "hi"; 4: fixed32 7.
        let message = [0x08, 0xAC, 0x02, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1A, 2, b'h', b'i', 0x25, 7, 0, 0, 0];
        let read: Vec<_> = fields(&message).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            read,
            [(1, Value::Varint(300)), (2, Value::Fixed64(1)), (3, Value::Bytes(b"hi")), (4, Value::Fixed32(7))]
        );
    }

    #[test]
    fn malformed_fields_are_errors_and_end_the_message() {
        let mut cut = fields(&[0x1A, 5, b'h']);
        assert_eq!(cut.next(), Some(Err("a field of 5 bytes runs past the message's end".into())));
        assert_eq!(cut.next(), None);
        assert!(fields(&[0x08, 0xFF]).next().unwrap().is_err());
        assert!(fields(&[0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).next().unwrap().is_err());
        assert_eq!(fields(&[0x0B]).next(), Some(Err("field 1 has wire type 3, which no event uses".into())));
    }
}
