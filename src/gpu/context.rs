//! Adapter and device selection with the limits our kernels need.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::faults::Faults;
use super::pool::{BufferPool, DEFAULT_POOL_LIMIT};
use super::recorder::Recorder;
use crate::{Error, Result};

/// Workgroup shared memory the tiled kernels use (the WebGPU default minimum).
const NEEDED_WORKGROUP_STORAGE: u32 = 16 * 1024;
/// Threads per workgroup the kernels use.
const NEEDED_INVOCATIONS: u32 = 256;

/// How to pick the GPU.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Prefer a low-power adapter (integrated GPU) over a discrete one.
    pub low_power: bool,
    /// Bytes of idle activation buffers kept for reuse (see `Gpu::set_pool_limit`).
    pub pool_limit: u64,
    /// Request subgroup operations when the adapter offers them (kernels then pick their
    /// subgroup variants). Off, or `WHISPER_CLSR_NO_SUBGROUPS=1` in the environment, forces
    /// the workgroup-memory fallbacks, e.g. to compare the two.
    pub subgroups: bool,
    /// Which kernel forms to run where a kernel has one tuned for GPUs and one for drivers
    /// that run on the CPU (see [`KernelForms`]).
    pub kernel_forms: KernelForms,
    /// Request `shader-f16` when the adapter offers it (the GPU matmul then keeps f16
    /// weights in workgroup memory as halves). Off, or `WHISPER_CLSR_NO_SHADER_F16=1` in
    /// the environment, forces the f32 tiles.
    pub shader_f16: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            low_power: false,
            pool_limit: DEFAULT_POOL_LIMIT,
            subgroups: true,
            kernel_forms: KernelForms::Auto,
            shader_f16: true,
        }
    }
}

/// Kernel forms by the kind of device they suit. A GPU wants many threads sharing coalesced
/// reads through workgroup memory; a driver that runs shaders on the CPU (lavapipe,
/// SwiftShader) pays for every barrier and workgroup-memory round trip, and runs one thread
/// per output walking contiguous memory far faster (docs/kernels.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelForms {
    /// By the adapter: the CPU forms on a CPU device, the GPU forms elsewhere. Natively
    /// `WHISPER_CLSR_KERNEL_FORMS=gpu|cpu` overrides it, e.g. to compare the two.
    #[default]
    Auto,
    Gpu,
    Cpu,
}

/// A device, its queue, and the caches every kernel shares.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The optional features the device was opened with (see [`Gpu::subgroups`]).
    pub features: wgpu::Features,
    /// Whether kernels run their forms for CPU drivers (see [`KernelForms`]).
    cpu_forms: bool,
    /// Whether the GPU matmul may take its 16-byte-load form (see [`Gpu::set_wide_matmul`]).
    wide_matmul: Cell<bool>,
    /// Whether the wide form may take 128×128 blocks (see [`Gpu::set_large_matmul_tiles`]).
    large_matmul_tiles: Cell<bool>,
    pub(super) pipelines: RefCell<HashMap<String, wgpu::ComputePipeline>>,
    pub(super) pool: Rc<BufferPool>,
    pub(super) recorder: RefCell<Recorder>,
    pub(super) faults: Faults,
    /// Per-kernel times while a profile is open (see `Gpu::start_kernel_profile`).
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) profile: RefCell<Option<super::profile::KernelProfile>>,
}

impl Gpu {
    /// Opens the best available adapter. Natively the backend can be pinned with
    /// `WGPU_BACKEND=vulkan` (tests do); in the browser this is WebGPU.
    pub async fn new(options: GpuOptions) -> Result<Gpu> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let instance = wgpu::Instance::new(desc);
        let power_preference = if options.low_power {
            wgpu::PowerPreference::LowPower
        } else {
            wgpu::PowerPreference::HighPerformance
        };
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference,
                force_fallback_adapter: false,
                compatible_surface: None,
                apply_limit_buckets: false,
            })
            .await
            .map_err(|e| {
                Error::Gpu(format!(
                    "no GPU adapter found ({e}). In a browser, use one with WebGPU enabled; \
                     on Linux without a GPU install Mesa's lavapipe (apt-get install mesa-vulkan-drivers)"
                ))
            })?;
        let info = adapter.get_info();
        let limits = required_limits(&adapter.limits(), &info)?;
        let features = wanted_features(&adapter.features(), &options);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("whisper-clsr"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Gpu(format!("could not open device {}: {e}", info.name)))?;
        let features = device.features();
        let cpu_forms = cpu_forms(options.kernel_forms, &info);
        let faults = Faults::install(&device);
        let recorder = Recorder::new(&device, &limits);
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            cpu_forms,
            wide_matmul: Cell::new(true),
            large_matmul_tiles: Cell::new(true),
            pipelines: RefCell::new(HashMap::new()),
            pool: Rc::new(BufferPool::with_limit(options.pool_limit)),
            recorder: RefCell::new(recorder),
            faults,
            #[cfg(not(target_arch = "wasm32"))]
            profile: RefCell::new(None),
        })
    }

    /// A one-line description of the adapter, e.g. `llvmpipe (LLVM 15.0.6) (Vulkan,
    /// subgroups 8, shader-f16, Cpu)`: its name, backend, the subgroup sizes the kernels may
    /// meet (or `no subgroups`), `shader-f16` where kernels may use it, and its type, followed
    /// by the kernel forms where they are not the adapter type's own (`, GPU kernel forms` on
    /// a CPU device, or the reverse).
    pub fn describe(&self) -> String {
        let subgroups = if !self.subgroups() {
            "no subgroups".to_string()
        } else if self.info.subgroup_min_size == self.info.subgroup_max_size {
            format!("subgroups {}", self.info.subgroup_min_size)
        } else {
            format!(
                "subgroups {}-{}",
                self.info.subgroup_min_size, self.info.subgroup_max_size
            )
        };
        let forms = match (self.cpu_forms, self.is_cpu()) {
            (true, false) => ", CPU kernel forms",
            (false, true) => ", GPU kernel forms",
            _ => "",
        };
        let f16 = if self.shader_f16() {
            ", shader-f16"
        } else {
            ""
        };
        format!(
            "{} ({:?}, {subgroups}{f16}, {:?}{forms})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Whether kernels run their forms for drivers on the CPU ([`KernelForms`]).
    pub fn cpu_forms(&self) -> bool {
        self.cpu_forms
    }

    /// Whether the GPU forms of the matmul load both operands 16 bytes at a time where
    /// they are aligned (`runtime/matmul.wgsl`'s `WIDE`; the default). Off, every product
    /// takes the tiled form with scalar loads, e.g. to compare the two.
    pub fn set_wide_matmul(&self, on: bool) {
        self.wide_matmul.set(on);
    }

    /// See [`Gpu::set_wide_matmul`].
    pub fn wide_matmul(&self) -> bool {
        self.wide_matmul.get()
    }

    /// Whether the wide form computes 128×128 blocks of C, each thread four 4×4 tiles, where
    /// a product has enough of them to fill a GPU (`LARGE_TILE` in `lib/wide_tile.wgsl`; the
    /// default). Off, it always computes 64×64 blocks, e.g. to compare the two.
    pub fn set_large_matmul_tiles(&self, on: bool) {
        self.large_matmul_tiles.set(on);
    }

    /// See [`Gpu::set_large_matmul_tiles`].
    pub fn large_matmul_tiles(&self) -> bool {
        self.large_matmul_tiles.get()
    }

    /// Whether kernels may use f16 values in shaders: the device was opened with
    /// `Features::SHADER_F16` (offered by the adapter, not turned off in [`GpuOptions`]).
    pub fn shader_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// Whether kernels may use subgroup operations: the device was opened with
    /// `Features::SUBGROUP` (offered by the adapter, not turned off in [`GpuOptions`]).
    pub fn subgroups(&self) -> bool {
        self.features.contains(wgpu::Features::SUBGROUP)
    }

    /// Whether the device is software running on the CPU (lavapipe, SwiftShader): the
    /// kernels work there, but far slower than on a GPU.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Fails if the device was lost or a GPU operation failed since the last check (an
    /// allocation or pipeline the device refused); readbacks check on their own.
    pub fn check(&self) -> Result<()> {
        // Device loss is noticed while wgpu maintains the device; natively that needs a poll
        // (a non-blocking one here).
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::Poll);
        let checked = self.faults.check();
        if checked.is_err() {
            self.discard_recorded();
        }
        checked
    }

    /// Whether the device has been lost (driver reset, `destroy`); a lost device never
    /// comes back: open a new `Gpu` and load the model again.
    pub fn is_lost(&self) -> bool {
        self.faults.is_lost()
    }

    /// Largest buffer a single storage binding may cover.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }
}

/// Whether to run the CPU kernel forms: as asked, or by the adapter type (natively,
/// `WHISPER_CLSR_KERNEL_FORMS=gpu|cpu` decides over `Auto`).
fn cpu_forms(forms: KernelForms, info: &wgpu::AdapterInfo) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    let forms = match (forms, std::env::var("WHISPER_CLSR_KERNEL_FORMS").as_deref()) {
        (KernelForms::Auto, Ok("gpu")) => KernelForms::Gpu,
        (KernelForms::Auto, Ok("cpu")) => KernelForms::Cpu,
        _ => forms,
    };
    match forms {
        KernelForms::Auto => info.device_type == wgpu::DeviceType::Cpu,
        KernelForms::Gpu => false,
        KernelForms::Cpu => true,
    }
}

/// The optional features to request, each where the adapter offers it: `SUBGROUP` unless
/// `options.subgroups` or `WHISPER_CLSR_NO_SUBGROUPS=1` turns it off, `SHADER_F16` unless
/// `options.shader_f16` or `WHISPER_CLSR_NO_SHADER_F16=1` does. Kernels never need them;
/// with them, some pick faster variants (docs/kernels.md).
fn wanted_features(adapter: &wgpu::Features, options: &GpuOptions) -> wgpu::Features {
    let mut wanted = wgpu::Features::empty();
    if options.subgroups && !forced_off("WHISPER_CLSR_NO_SUBGROUPS") {
        wanted |= wgpu::Features::SUBGROUP;
    }
    if options.shader_f16 && !forced_off("WHISPER_CLSR_NO_SHADER_F16") {
        wanted |= wgpu::Features::SHADER_F16;
    }
    wanted & *adapter
}

/// Whether the environment variable `name` is `1` (natively; never in the browser).
fn forced_off(name: &str) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return std::env::var(name).is_ok_and(|v| v == "1");
    #[cfg(target_arch = "wasm32")]
    {
        let _ = name;
        false
    }
}

/// Starts from WebGPU's defaults and raises the buffer limits to what the adapter offers,
/// refusing adapters that lack what the kernels need.
fn required_limits(adapter: &wgpu::Limits, info: &wgpu::AdapterInfo) -> Result<wgpu::Limits> {
    let name = &info.name;
    if adapter.max_compute_workgroup_storage_size < NEEDED_WORKGROUP_STORAGE {
        return Err(Error::Gpu(format!(
            "adapter {name} offers {} bytes of workgroup memory; the kernels need {NEEDED_WORKGROUP_STORAGE}",
            adapter.max_compute_workgroup_storage_size
        )));
    }
    if adapter.max_compute_invocations_per_workgroup < NEEDED_INVOCATIONS {
        return Err(Error::Gpu(format!(
            "adapter {name} allows {} invocations per workgroup; the kernels need {NEEDED_INVOCATIONS}",
            adapter.max_compute_invocations_per_workgroup
        )));
    }
    if adapter.max_storage_buffers_per_shader_stage < 6 {
        return Err(Error::Gpu(format!(
            "adapter {name} allows {} storage buffers per shader stage; the kernels need 6",
            adapter.max_storage_buffers_per_shader_stage
        )));
    }
    Ok(wgpu::Limits {
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size,
        max_buffer_size: adapter.max_buffer_size,
        max_storage_buffers_per_shader_stage: adapter.max_storage_buffers_per_shader_stage.min(10),
        ..Default::default()
    })
}
