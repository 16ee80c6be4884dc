//! The layout test: every WGSL file under `src/kernels/` parsed and validated with naga, and each
//! entry point's uniform struct and each file's storage bindings held to their Rust declarations.
//!
//! A field added, moved, renamed or retyped on one side only, a uniform at another binding, a slot
//! misnumbered or an entry point without its Rust type fails here, instead of reaching a kernel as
//! misread numbers.

use super::{
    activation, attention, cross_entropy, elementwise, embed, layernorm, matmul, optim, reduce, EntryPoint, Slots,
    Source,
};
use crate::uniforms::Uniforms;
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ResourceBinding, Scalar, ScalarKind, ShaderStage, TypeInner};
use std::collections::BTreeSet;

/// A field as both sides are compared: name, byte offset, scalar type.
type Field = (String, usize, String);

/// `file`'s WGSL parsed and validated; the validator's analysis says which globals each entry point
/// uses.
fn parse(file: &str, text: &str) -> (Module, ModuleInfo) {
    let module = naga::front::wgsl::parse_str(text).unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(text)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(text)));
    (module, info)
}

/// A WGSL scalar as Rust spells it.
fn scalar_name(inner: &TypeInner) -> String {
    match inner {
        TypeInner::Scalar(Scalar { kind: ScalarKind::Uint, width: 4 }) => "u32".into(),
        TypeInner::Scalar(Scalar { kind: ScalarKind::Float, width: 4 }) => "f32".into(),
        TypeInner::Scalar(Scalar { kind: ScalarKind::Sint, width: 4 }) => "i32".into(),
        other => format!("{other:?}"),
    }
}

/// Checks `E` against its file: the entry point exists, reads exactly one `var<uniform>`, at
/// `E::Uniforms`'s binding, whose struct has the Rust struct's name, fields (names, offsets,
/// scalars) and size; and every `var<storage>` of the file is the `E::Slot` variant of its name at
/// its binding, and the other way round. Returns the file and the entry point's name.
fn check<E: EntryPoint>() -> (&'static str, &'static str) {
    let Source { file, text } = E::SOURCE;
    let what = format!("{file}, {}", E::NAME);
    let (module, info) = parse(file, text);
    let index = module
        .entry_points
        .iter()
        .position(|ep| ep.name == E::NAME && ep.stage == ShaderStage::Compute)
        .unwrap_or_else(|| panic!("{what}: no such compute entry point"));
    let uses = info.get_entry_point(index);
    let uniforms: Vec<_> = module
        .global_variables
        .iter()
        .filter(|&(handle, var)| var.space == AddressSpace::Uniform && !uses[handle].is_empty())
        .map(|(_, var)| var)
        .collect();
    let [uniform] = uniforms.as_slice() else { panic!("{what}: reads {} uniform variables, not one", uniforms.len()) };
    let binding = ResourceBinding { group: 0, binding: <E::Uniforms as Uniforms>::BINDING };
    assert_eq!(uniform.binding, Some(binding), "{what}: the uniforms' binding");
    let ty = &module.types[uniform.ty];
    assert_eq!(ty.name.as_deref(), Some(<E::Uniforms as Uniforms>::NAME), "{what}: the uniform struct's name");
    let TypeInner::Struct { members, span } = &ty.inner else { panic!("{what}: the uniforms are not a struct") };
    let wgsl: Vec<Field> = members
        .iter()
        .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize, scalar_name(&module.types[m.ty].inner)))
        .collect();
    let rust: Vec<Field> = <E::Uniforms as Uniforms>::FIELDS
        .iter()
        .map(|f| (f.name.to_string(), f.offset, f.scalar.to_string()))
        .collect();
    assert_eq!(rust, wgsl, "{what}: the fields of {} (Rust, then WGSL)", <E::Uniforms as Uniforms>::NAME);
    assert_eq!(size_of::<E::Uniforms>(), *span as usize, "{what}: the size of {}", <E::Uniforms as Uniforms>::NAME);

    // Variants are the WGSL names in CamelCase: `SavedProbs` is `saved_probs`.
    let storage: BTreeSet<(String, u32)> = module
        .global_variables
        .iter()
        .filter(|(_, var)| matches!(var.space, AddressSpace::Storage { .. }))
        .map(|(_, var)| {
            let binding = var.binding.as_ref().unwrap_or_else(|| panic!("{what}: a storage variable without binding"));
            assert_eq!(binding.group, 0, "{what}: {:?} is not in group 0", var.name);
            (var.name.clone().unwrap_or_default().replace('_', ""), binding.binding)
        })
        .collect();
    let slots: BTreeSet<(String, u32)> =
        <E::Slot as Slots>::ALL.iter().map(|&(name, binding)| (name.to_lowercase(), binding)).collect();
    assert_eq!(slots, storage, "{what}: the storage bindings (Rust's slots, then WGSL's variables)");
    (file, E::NAME)
}

#[test]
fn every_uniform_struct_and_binding_matches_its_wgsl() {
    let checked: BTreeSet<(&str, &str)> = [
        check::<activation::Activation>(),
        check::<activation::ActivationBackward>(),
        check::<attention::Attention>(),
        check::<attention::AttentionBackwardScores>(),
        check::<attention::AttentionBackwardQkv>(),
        check::<cross_entropy::CrossEntropy>(),
        check::<elementwise::Fill>(),
        check::<elementwise::Scale>(),
        check::<elementwise::ClipScale>(),
        check::<elementwise::AddAssign>(),
        check::<elementwise::MulAssign>(),
        check::<elementwise::AddBias>(),
        check::<embed::Embed>(),
        check::<embed::EmbedBackwardTokens>(),
        check::<embed::EmbedBackwardPositions>(),
        check::<layernorm::Layernorm>(),
        check::<layernorm::LayernormBackwardInput>(),
        check::<layernorm::LayernormBackwardParams>(),
        check::<matmul::Matmul>(),
        check::<matmul::MatmulVec4>(),
        check::<optim::AdamW>(),
        check::<optim::Sgd>(),
        check::<reduce::SumSquares>(),
        check::<reduce::GlobalNorm>(),
        check::<reduce::BiasBackward>(),
    ]
    .into_iter()
    .collect();

    // Every entry point of every WGSL file on disk has been checked: none lacks its Rust type.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/kernels");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the kernels' directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let text = std::fs::read_to_string(&path).expect("a WGSL file");
            let file = path.file_name().and_then(|f| f.to_str()).expect("a UTF-8 file name").to_string();
            let (module, _) = parse(&file, &text);
            on_disk.extend(module.entry_points.iter().map(|ep| (file.clone(), ep.name.clone())));
        }
    }
    let checked: BTreeSet<(String, String)> = checked.into_iter().map(|(f, n)| (f.into(), n.into())).collect();
    assert_eq!(checked, on_disk, "the entry points checked, then those of the WGSL files");
}
