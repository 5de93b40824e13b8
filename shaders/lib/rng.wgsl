// Included snippet: a counter-based RNG.
// Every draw is a pure function of (seed, stream, index) through the PCG hash, so a
// backward pass regenerates its forward's dropout masks and noise instead of storing them,
// and a resumed run draws the same numbers. train-native/src/rng.rs mirrors it on the CPU.

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn rng_u32(seed: u32, stream: u32, index: u32) -> u32 {
    return pcg_hash(pcg_hash(pcg_hash(seed) + stream) + index);
}

// Uniform in [0, 1) with 24 bits.
fn rng_uniform(seed: u32, stream: u32, index: u32) -> f32 {
    return f32(rng_u32(seed, stream, index) >> 8u) * (1.0 / 16777216.0);
}

// Standard normal (Box–Muller) from draws 2·index and 2·index + 1.
fn rng_normal(seed: u32, stream: u32, index: u32) -> f32 {
    let u1 = (f32(rng_u32(seed, stream, 2u * index) >> 8u) + 0.5) * (1.0 / 16777216.0);
    let u2 = f32(rng_u32(seed, stream, 2u * index + 1u) >> 8u) * (1.0 / 16777216.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
