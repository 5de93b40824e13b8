//! Beam search's KV-cache reorder (`beam_gather.wgsl`): each surviving hypothesis takes the
//! keys and values of the beam it grew from.

use super::{elementwise_grid, u};
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};

const SOURCE: &str = include_str!("../../shaders/runtime/beam_gather.wgsl");

crate::params_struct! {
    struct Params {
        positions: u32,
        width: u32,
        from_beams: u32,
        to_beams: u32,
    }
}

fn kernel() -> Kernel {
    Kernel::new::<Params>("runtime/beam_gather.wgsl", SOURCE, "main")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel()]
}

/// Rewrites the first `positions` positions of `cache`, laid out [position, beam, width]
/// with `from_beams` beams, as `sources.len()` beams where beam b is old beam `sources[b]`
/// (the layout's beam count changes to `sources.len()`). Goes through a scratch tensor, so
/// any sources (repeated, reordered) are safe.
pub fn gather_beams(
    gpu: &Gpu,
    cache: &Tensor,
    positions: usize,
    from_beams: usize,
    sources: &[u32],
) -> crate::Result<()> {
    let width = cache.shape()[1];
    let to_beams = sources.len();
    assert!(to_beams >= 1, "at least one beam survives");
    assert!(
        sources.iter().all(|&s| (s as usize) < from_beams),
        "source beams exist"
    );
    assert!(
        positions * from_beams.max(to_beams) * width <= cache.len(),
        "reorder past the end of the cache"
    );
    if positions == 0 {
        return Ok(());
    }
    let ids = gpu.upload_u32(sources, &[to_beams])?;
    let gathered = gpu.tensor(&[positions * to_beams, width]);
    let params = Params {
        positions: u(positions),
        width: u(width),
        from_beams: u(from_beams),
        to_beams: u(to_beams),
    };
    gpu.dispatch(
        &kernel(),
        bytemuck::bytes_of(&params),
        &[
            (1, cache.buffer()),
            (2, gathered.buffer()),
            (3, ids.buffer()),
        ],
        elementwise_grid(positions * to_beams * width),
    );
    let bytes = (positions * to_beams * width * 4) as u64;
    gpu.copy(gathered.buffer(), 0, cache.buffer(), 0, bytes);
    Ok(())
}
