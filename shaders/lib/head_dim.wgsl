// Included snippet: HD4, the vec4s of one attention head's row, from one define per head
// size: HEAD_DIM_8, HEAD_DIM_16, HEAD_DIM_32 or HEAD_DIM_64.

#if HEAD_DIM_8
const HD4: u32 = 2u;
#endif
#if HEAD_DIM_16
const HD4: u32 = 4u;
#endif
#if HEAD_DIM_32
const HD4: u32 = 8u;
#endif
#if HEAD_DIM_64
const HD4: u32 = 16u;
#endif
