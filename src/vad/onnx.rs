//! Pulls the floating-point constant tensors out of an ONNX model (`ModelProto`), keeping
//! each (sub)graph's tensors together: Silero VAD keeps one weight set per sample rate in the
//! two branches of an `If` node, as `Constant` nodes.
//!
//! Only what Silero needs is understood: graph initializers and `Constant` nodes holding f32
//! (raw or `float_data`) or f16 (raw) tensors, searched through `If`/`Loop` subgraphs.
//! Integer constants (shapes, axes) are skipped.

use super::protobuf::{bytes, push_floats, push_varints, Reader, Value};
use crate::{Error, Result};

/// A dense row-major tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

/// The named float tensors defined directly in one graph (not in its subgraphs).
#[derive(Debug, Default)]
pub(crate) struct GraphTensors {
    pub tensors: Vec<(String, Tensor)>,
}

impl GraphTensors {
    /// The tensor whose name ends with `suffix` (ONNX exporters prefix inlined names).
    pub fn find(&self, suffix: &str) -> Option<&Tensor> {
        self.tensors
            .iter()
            .find(|(name, _)| name.ends_with(suffix))
            .map(|(_, t)| t)
    }
}

/// Deeper nesting than this is treated as corrupt (Silero nests three levels).
const MAX_DEPTH: usize = 16;

// Field numbers from onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INITIALIZER: u32 = 5;
const NODE_OUTPUT: u32 = 2;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTR_NAME: u32 = 1;
const ATTR_T: u32 = 5;
const ATTR_G: u32 = 6;
const ATTR_GRAPHS: u32 = 11;
const TENSOR_DIMS: u32 = 1;
const TENSOR_DATA_TYPE: u32 = 2;
const TENSOR_FLOAT_DATA: u32 = 4;
const TENSOR_NAME: u32 = 8;
const TENSOR_RAW_DATA: u32 = 9;
const TENSOR_DATA_LOCATION: u32 = 14;
const DT_FLOAT: u64 = 1;
const DT_FLOAT16: u64 = 10;

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Model(format!("silero VAD weights: {what}"))
}

/// Every graph of the model (main graph first, then subgraphs depth-first) with its tensors.
pub(crate) fn graph_tensors(model: &[u8]) -> Result<Vec<GraphTensors>> {
    let mut graphs = Vec::new();
    let mut r = Reader::new(model);
    let mut found = false;
    while let Some((field, value)) = r.next_field()? {
        if field == MODEL_GRAPH {
            read_graph(bytes(value, "graph")?, 0, &mut graphs)?;
            found = true;
        }
    }
    if !found {
        return Err(bad("the file holds no ONNX graph (is it an .onnx model?)"));
    }
    Ok(graphs)
}

fn read_graph(buf: &[u8], depth: usize, out: &mut Vec<GraphTensors>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad(format!(
            "ONNX subgraphs nested deeper than {MAX_DEPTH}"
        )));
    }
    let index = out.len();
    out.push(GraphTensors::default());
    let mut r = Reader::new(buf);
    while let Some((field, value)) = r.next_field()? {
        match field {
            GRAPH_NODE => read_node(bytes(value, "node")?, index, depth, out)?,
            GRAPH_INITIALIZER => {
                let (name, tensor) = read_tensor(bytes(value, "initializer")?)?;
                if let Some(tensor) = tensor {
                    out[index].tensors.push((name, tensor));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_node(buf: &[u8], graph: usize, depth: usize, out: &mut Vec<GraphTensors>) -> Result<()> {
    let mut op_type: &[u8] = b"";
    let mut first_output = None;
    let mut value_tensor = None;
    let mut subgraphs = Vec::new();
    let mut r = Reader::new(buf);
    while let Some((field, value)) = r.next_field()? {
        match field {
            NODE_OUTPUT if first_output.is_none() => {
                first_output = Some(String::from_utf8_lossy(bytes(value, "output")?).into_owned())
            }
            NODE_OP_TYPE => op_type = bytes(value, "op_type")?,
            NODE_ATTRIBUTE => {
                let mut name: &[u8] = b"";
                let mut tensor = None;
                let mut a = Reader::new(bytes(value, "attribute")?);
                while let Some((field, value)) = a.next_field()? {
                    match field {
                        ATTR_NAME => name = bytes(value, "attribute name")?,
                        ATTR_T => tensor = Some(bytes(value, "attribute tensor")?),
                        ATTR_G | ATTR_GRAPHS => subgraphs.push(bytes(value, "subgraph")?),
                        _ => {}
                    }
                }
                if name == b"value" {
                    value_tensor = tensor;
                }
            }
            _ => {}
        }
    }
    if op_type == b"Constant" {
        if let (Some(output), Some(t)) = (first_output, value_tensor) {
            if let (_, Some(tensor)) = read_tensor(t)? {
                out[graph].tensors.push((output, tensor));
            }
        }
    }
    for g in subgraphs {
        read_graph(g, depth + 1, out)?;
    }
    Ok(())
}

/// Reads a `TensorProto`; the tensor is `None` when it is not a float tensor.
fn read_tensor(buf: &[u8]) -> Result<(String, Option<Tensor>)> {
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut name = String::new();
    let mut float_data = Vec::new();
    let mut raw: Option<&[u8]> = None;
    let mut external = false;
    let mut r = Reader::new(buf);
    while let Some((field, value)) = r.next_field()? {
        match (field, value) {
            (TENSOR_DIMS, v) => push_varints(v, &mut dims)?,
            (TENSOR_DATA_TYPE, Value::Varint(v)) => data_type = v,
            (TENSOR_FLOAT_DATA, v) => push_floats(v, &mut float_data)?,
            (TENSOR_NAME, v) => name = String::from_utf8_lossy(bytes(v, "tensor name")?).into(),
            (TENSOR_RAW_DATA, v) => raw = Some(bytes(v, "raw_data")?),
            (TENSOR_DATA_LOCATION, Value::Varint(1)) => external = true,
            _ => {}
        }
    }
    if data_type != DT_FLOAT && data_type != DT_FLOAT16 {
        return Ok((name, None));
    }
    if external {
        return Err(bad(format!(
            "tensor {name} is stored outside the .onnx file (external data is not supported)"
        )));
    }
    let dims: Vec<usize> = dims
        .into_iter()
        .map(usize::try_from)
        .collect::<Result<_, _>>()
        .map_err(|_| bad(format!("tensor {name} has a dimension out of range")))?;
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| bad(format!("tensor {name} has an impossible shape {dims:?}")))?;
    let data = match (data_type, raw) {
        (DT_FLOAT, Some(raw)) if raw.len() == count * 4 => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        (DT_FLOAT16, Some(raw)) if raw.len() == count * 2 => raw
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes(b.try_into().unwrap()).to_f32())
            .collect(),
        (DT_FLOAT, None) if float_data.len() == count => float_data,
        _ => {
            return Err(bad(format!(
                "tensor {name} of shape {dims:?} does not hold {count} values"
            )))
        }
    };
    Ok((name, Some(Tensor { dims, data })))
}
