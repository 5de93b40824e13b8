//! The test GPU and moving data on and off it.

use whisper_clsr::gpu::{DType, Gpu, GpuOptions, KernelForms, Tensor, Weight};

/// Opens the test GPU, pinned to Vulkan (lavapipe on machines without a GPU) unless the
/// caller chose a backend with `WGPU_BACKEND`.
pub fn gpu() -> Gpu {
    gpu_with(KernelForms::Auto)
}

/// The test device running the kernel forms `forms` (tests that prove both the GPU's and
/// the CPU drivers' forms on one device).
pub fn gpu_with(forms: KernelForms) -> Gpu {
    gpu_with_options(GpuOptions {
        kernel_forms: forms,
        ..GpuOptions::default()
    })
}

/// The test device opened with `options` (e.g. without an optional feature).
pub fn gpu_with_options(options: GpuOptions) -> Gpu {
    if std::env::var_os("WGPU_BACKEND").is_none() {
        // SAFETY: set before any thread of this test binary reads the environment.
        unsafe { std::env::set_var("WGPU_BACKEND", "vulkan") };
    }
    pollster::block_on(Gpu::new(options)).expect("a Vulkan device (install mesa-vulkan-drivers)")
}

/// Reads a tensor back to the host.
pub fn read(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    pollster::block_on(gpu.read(t)).expect("readback")
}

/// Runs `record` (one dispatch, returning the tensor it writes) under a kernel profile and
/// returns that tensor's values and the kernel variant that ran (`file:entry:DEFINES [grid]`).
pub fn one_dispatch(gpu: &Gpu, record: impl FnOnce() -> Tensor) -> (Vec<f32>, String) {
    gpu.start_kernel_profile();
    let out = record();
    let values = read(gpu, &out);
    let profile = gpu.take_kernel_profile();
    assert_eq!(profile.len(), 1, "one dispatch: {profile:?}");
    (values, profile[0].kernel.clone())
}

/// The defines of a kernel variant as [`one_dispatch`] names it.
pub fn defines_of(variant: &str) -> Vec<&str> {
    variant
        .split(' ')
        .next()
        .and_then(|k| k.rsplit(':').next())
        .unwrap_or("")
        .split(',')
        .collect()
}

/// Reads an f32 weight back to the host (through a copy into a tensor).
pub fn read_weight(gpu: &Gpu, w: &Weight) -> Vec<f32> {
    let t = gpu.tensor(w.shape());
    gpu.copy(w.buffer(), 0, t.buffer(), 0, (w.len() * 4) as u64);
    read(gpu, &t)
}

/// Uploads an activation tensor.
pub fn upload(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Tensor {
    gpu.upload(data, shape).unwrap()
}

/// Rounds values through f16, as packed-f16 weights store them.
pub fn through_f16(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

/// The values a weight of `dtype` holds for `data`: f16-rounded when stored as f16.
pub fn as_stored(data: &[f32], dtype: DType) -> Vec<f32> {
    match dtype {
        DType::F32 => data.to_vec(),
        DType::F16 => through_f16(data),
    }
}

/// A frozen weight plus the exact values the GPU sees, for the reference to use.
pub fn weight(gpu: &Gpu, data: &[f32], shape: &[usize], dtype: DType) -> (Weight, Vec<f32>) {
    let w = gpu.weight_f32(data, shape, dtype).unwrap();
    (w, as_stored(data, dtype))
}
