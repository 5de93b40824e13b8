//! Records kernel dispatches into one command encoder until the next submission, all in
//! one compute pass (ended only by a buffer copy or the submission): a pass per dispatch
//! costs the driver a begin/end each, which adds up over a hundred dispatches per decoder
//! token. wgpu orders the dispatches of a pass by their buffer uses, as it does passes.
//! Each dispatch's parameters go into a slot of one uniform buffer, so recording allocates
//! no buffers; the slots are uploaded right before the encoder is submitted. Bind groups
//! are reused across submissions (`bind_groups.rs`).

use super::bind_groups::BindGroupCache;
use super::faults::{describe, scoped};
use super::shader::Kernel;
use super::Gpu;

/// Dispatches recorded before an automatic submission.
const SLOTS: usize = 512;
/// Bytes one dispatch's parameters may take.
const SLOT_BYTES: usize = 256;

pub(crate) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    /// The open compute pass of `encoder`, if any.
    pass: Option<wgpu::ComputePass<'static>>,
    params: Vec<u8>,
    slot_stride: usize,
    uniforms: wgpu::Buffer,
    pub(super) bind_groups: BindGroupCache,
    pub(crate) dispatches: u64,
    submits: u64,
    /// The latest submission (to wait for it alone).
    pub(super) last_submission: Option<wgpu::SubmissionIndex>,
}

impl Recorder {
    pub(crate) fn new(device: &wgpu::Device, limits: &wgpu::Limits) -> Recorder {
        let slot_stride = (limits.min_uniform_buffer_offset_alignment as usize).max(SLOT_BYTES);
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dispatch params"),
            size: (slot_stride * SLOTS) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Recorder {
            encoder: None,
            pass: None,
            params: Vec::new(),
            slot_stride,
            uniforms,
            bind_groups: BindGroupCache::new(),
            dispatches: 0,
            submits: 0,
            last_submission: None,
        }
    }
}

/// Splits a workgroup count over x and y when it exceeds the per-dimension limit of 65535.
/// Kernels recover the linear index as `wid.x + wid.y * num_workgroups.x`.
pub fn grid(groups: u32) -> [u32; 3] {
    const MAX: u32 = 65535;
    if groups <= MAX {
        [groups.max(1), 1, 1]
    } else {
        let y = groups.div_ceil(MAX);
        [groups.div_ceil(y), y, 1]
    }
}

impl Gpu {
    fn pipeline(&self, kernel: &Kernel) -> wgpu::ComputePipeline {
        #[cfg(feature = "parity-tanh-gelu")]
        let kernel = &*super::shader::dispatched_variant(kernel);
        let key = kernel.key();
        if let Some(p) = self.pipelines.borrow().get(&key) {
            return p.clone();
        }
        let (pipeline, error) = scoped(&self.device, || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&key),
                    source: wgpu::ShaderSource::Wgsl(kernel.code().into()),
                });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&key),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        });
        match error {
            // Not cached, so a later call tries again; the fault fails the next readback.
            Some(e) => self.faults.record(format!(
                "creating the GPU pipeline of kernel {key} ({}) failed: {}",
                kernel.file,
                describe(&e)
            )),
            None => {
                self.pipelines.borrow_mut().insert(key, pipeline.clone());
            }
        }
        pipeline
    }

    /// Creates the pipelines of `kernels` not created yet, calling `progress(done, total)`
    /// after each, so that the first transcription does not wait for shader compilation
    /// (natively this compiles now; in a browser the calls return at once and the GPU
    /// process compiles while the page goes on). Returns how many were created.
    pub fn prepare_pipelines(
        &self,
        kernels: &[Kernel],
        progress: &mut dyn FnMut(usize, usize),
    ) -> usize {
        let before = self.pipeline_count();
        for (i, kernel) in kernels.iter().enumerate() {
            self.pipeline(kernel);
            progress(i + 1, kernels.len());
        }
        self.pipeline_count() - before
    }

    /// Number of compute pipelines created so far (each kernel variant once).
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.borrow().len()
    }

    /// Records one dispatch. Binding 0 is the uniform `params`; `buffers` lists the storage
    /// bindings by number.
    pub fn dispatch(
        &self,
        kernel: &Kernel,
        params: &[u8],
        buffers: &[(u32, &wgpu::Buffer)],
        workgroups: [u32; 3],
    ) {
        assert!(
            params.len() <= SLOT_BYTES,
            "kernel parameters exceed a slot"
        );
        if self.recorder.borrow().params.len() >= SLOTS * self.recorder.borrow().slot_stride {
            self.flush();
        }
        let pipeline = self.pipeline(kernel);
        self.record_dispatch(kernel, &pipeline, params, buffers, workgroups);
        #[cfg(not(target_arch = "wasm32"))]
        self.time_dispatch(|| format!("{} {:?}", kernel.key(), workgroups));
    }

    fn record_dispatch(
        &self,
        kernel: &Kernel,
        pipeline: &wgpu::ComputePipeline,
        params: &[u8],
        buffers: &[(u32, &wgpu::Buffer)],
        workgroups: [u32; 3],
    ) {
        let mut rec = self.recorder.borrow_mut();
        let offset = rec.params.len();
        let stride = rec.slot_stride;
        rec.params.extend_from_slice(params);
        rec.params.resize(offset + stride, 0);
        let rec = &mut *rec;
        let uniforms = &rec.uniforms;
        let bind_group = rec.bind_groups.get(pipeline, offset as u64, buffers, || {
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: uniforms,
                    offset: offset as u64,
                    size: wgpu::BufferSize::new(SLOT_BYTES as u64),
                }),
            }];
            entries.extend(
                buffers
                    .iter()
                    .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                        binding,
                        resource: buffer.as_entire_binding(),
                    }),
            );
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(kernel.file),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        });
        let device = &self.device;
        let pass = rec.pass.get_or_insert_with(|| {
            let encoder = rec.encoder.get_or_insert_with(|| {
                device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
            });
            encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes: None,
                })
                .forget_lifetime()
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        rec.dispatches += 1;
    }

    /// Records a buffer copy in order with the dispatches.
    pub fn copy(
        &self,
        src: &wgpu::Buffer,
        src_offset: u64,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    ) {
        let mut rec = self.recorder.borrow_mut();
        rec.pass = None; // a copy cannot be recorded inside a compute pass
        let device = &self.device;
        let encoder = rec.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
        });
        encoder.copy_buffer_to_buffer(src, src_offset, dst, dst_offset, bytes);
    }

    /// Submits everything recorded so far.
    pub fn flush(&self) {
        let mut rec = self.recorder.borrow_mut();
        rec.pass = None;
        let Some(encoder) = rec.encoder.take() else {
            return;
        };
        if !rec.params.is_empty() {
            self.queue.write_buffer(&rec.uniforms, 0, &rec.params);
            rec.params.clear();
        }
        rec.last_submission = Some(self.queue.submit([encoder.finish()]));
        rec.submits += 1;
    }

    /// Drops what was recorded but not submitted: the work of a call that failed (a refused
    /// allocation or pipeline would fail its submission too).
    pub(super) fn discard_recorded(&self) {
        let mut rec = self.recorder.borrow_mut();
        rec.pass = None;
        rec.encoder = None;
        rec.params.clear();
    }

    /// Number of command-buffer submissions of recorded work since the device was opened.
    pub fn submit_count(&self) -> u64 {
        self.recorder.borrow().submits
    }

    /// Number of kernel dispatches recorded since the device was opened.
    pub fn dispatch_count(&self) -> u64 {
        self.recorder.borrow().dispatches
    }

    /// Number of bind groups created since the device was opened: one per dispatch that
    /// found none to reuse (all of them with [`Gpu::set_bind_group_reuse`] off).
    pub fn bind_groups_created(&self) -> u64 {
        self.recorder.borrow().bind_groups.created
    }

    /// Turns the reuse of bind groups across dispatches on (the default) or off, e.g. to
    /// measure what it saves; off also drops the kept ones.
    pub fn set_bind_group_reuse(&self, on: bool) {
        let mut rec = self.recorder.borrow_mut();
        rec.bind_groups.enabled = on;
        if !on {
            rec.bind_groups.clear();
        }
    }

    /// Number of bind groups kept for reuse now.
    pub fn kept_bind_groups(&self) -> usize {
        self.recorder.borrow().bind_groups.len()
    }
}
