/* The element-wise half of a float32 LSTM step (TFLM's LstmStep after its gate FCs), 8 units at a time:
 *   f, i, o = logistic(x_gate + h_gate), g = tanh(x_gate + h_gate)   (forget, input, output, cell gates)
 *   c = clamp(f * c); c = c + clamp(i * g); c = clip(c) if clipping; h = clamp(tanh(c) * o)
 * where clamp bounds at +-FLT_MAX and clip is std::max(std::min(clip, c), -clip), as in lstm_common.pxd.
 *
 * TFLM calls libm's expf and tanhf one element at a time, and those calls were two thirds of a float
 * LSTM's time (trained_lstm: 100 of them per step, 15 ns per tanhf). Here they are polynomials over
 * whole vectors, within 2 ulp of the true function, so outputs follow the float32 rule (1e-5 relative
 * of TFLM's), not TFLM's bits. TFLM's own shortcuts are kept where they move a result by more than
 * that: logistic is exp(x) below -9 and 1 above 16.619...
 *
 * The arithmetic is written once on GCC vector types of 8 floats, with no fused multiply-add (the
 * build has -ffp-contract=off), so the AVX2 path and the portable one (SSE2 pairs) give the same bits.
 * The last partial block of units goes through the same code on a zero-padded copy.
 */
#ifndef MI_FLOAT_LSTM_CELLS_H
#define MI_FLOAT_LSTM_CELLS_H

#include <float.h>
#include <stdint.h>
#include <string.h>

#include "simd.h"

typedef float mi_v8f __attribute__((vector_size(32)));
typedef int32_t mi_v8i __attribute__((vector_size(32)));

/* Passing 32-byte vectors between functions is ABI-sensitive; every helper here is always inlined into
 * its caller, so none crosses a call and GCC's ABI note is noise. GCC emits that note at the end of the
 * translation unit, so the pragma has to stay in force there (no push/pop). */
#pragma GCC diagnostic ignored "-Wpsabi"

#define MI_V8(value) ((mi_v8f){value, value, value, value, value, value, value, value})
#define MI_ALWAYS_INLINE static inline __attribute__((always_inline))

/* a where mask (lanes of all ones or zeros) is set, else b. */
MI_ALWAYS_INLINE mi_v8f mi_v8_select(mi_v8i mask, mi_v8f a, mi_v8f b)
{
    return (mi_v8f)(((mi_v8i)a & mask) | ((mi_v8i)b & ~mask));
}

/* exp(x): x = n ln2 + r with |r| <= ln2 / 2, exp(r) by Cephes' degree-7 polynomial, 2^n from the exponent
 * bits. x is bounded to [-87.3, 88.3] so that 2^n stays a normal float; callers select their own result
 * outside that range. */
MI_ALWAYS_INLINE mi_v8f mi_v8_exp(mi_v8f x)
{
    x = mi_v8_select(x < MI_V8(-87.3f), MI_V8(-87.3f), x);
    x = mi_v8_select(x > MI_V8(88.3f), MI_V8(88.3f), x);
    /* floor(x log2(e) + 1/2) through truncation of a positive number (the bounds keep it positive). */
    mi_v8i n = __builtin_convertvector(x * MI_V8(1.44269504088896341f) + MI_V8(0.5f) + MI_V8(256.0f), mi_v8i) -
               256;
    mi_v8f nf = __builtin_convertvector(n, mi_v8f);
    /* ln2 in two parts, so that n ln2_hi is exact. */
    mi_v8f r = x - nf * MI_V8(0.693359375f) - nf * MI_V8(-2.12194440e-4f);
    mi_v8f p = MI_V8(1.9875691500e-4f);
    p = p * r + MI_V8(1.3981999507e-3f);
    p = p * r + MI_V8(8.3334519073e-3f);
    p = p * r + MI_V8(4.1665795894e-2f);
    p = p * r + MI_V8(1.6666665459e-1f);
    p = p * r + MI_V8(5.0000001201e-1f);
    p = p * r * r + r + MI_V8(1.0f);
    return p * (mi_v8f)((n + 127) << 23);
}

/* reference_ops::Logistic on float: 1 above 16.619..., exp(x) below -9, else 1 / (1 + exp(-x)). */
MI_ALWAYS_INLINE mi_v8f mi_v8_logistic(mi_v8f x)
{
    mi_v8f e = mi_v8_exp(-x);
    mi_v8f y = mi_v8_select(x < MI_V8(-9.0f), MI_V8(1.0f) / e, MI_V8(1.0f) / (MI_V8(1.0f) + e));
    return mi_v8_select(x > MI_V8(16.619047164916992188f), MI_V8(1.0f), y);
}

/* tanh(x): Cephes' odd polynomial below |x| = 0.625, else sign(x) (1 - 2 / (exp(2|x|) + 1)). */
MI_ALWAYS_INLINE mi_v8f mi_v8_tanh(mi_v8f x)
{
    mi_v8i sign = (mi_v8i)x & (mi_v8i)MI_V8(-0.0f);
    mi_v8f a = (mi_v8f)((mi_v8i)x & ~(mi_v8i)MI_V8(-0.0f));
    mi_v8f large = MI_V8(1.0f) - MI_V8(2.0f) / (mi_v8_exp(a + a) + MI_V8(1.0f));
    large = (mi_v8f)((mi_v8i)large | sign);
    mi_v8f z = x * x;
    mi_v8f p = MI_V8(-5.70498872745e-3f);
    p = p * z + MI_V8(2.06390887954e-2f);
    p = p * z + MI_V8(-5.37397155531e-2f);
    p = p * z + MI_V8(1.33314422036e-1f);
    p = p * z + MI_V8(-3.33332819422e-1f);
    mi_v8f small = p * z * x + x;
    return mi_v8_select(a < MI_V8(0.625f), small, large);
}

/* ActivationFunctionWithMinMax with no activation: bounds +-FLT_MAX, a NaN passes through. */
MI_ALWAYS_INLINE mi_v8f mi_v8_clamp(mi_v8f x)
{
    x = mi_v8_select(x < MI_V8(-FLT_MAX), MI_V8(-FLT_MAX), x);
    return mi_v8_select(MI_V8(FLT_MAX) < x, MI_V8(FLT_MAX), x);
}

/* Eight units of one batch row: pre[gate] are the four gates' summed FCs (forget, input, cell, output). */
MI_ALWAYS_INLINE void mi_lstm_cells_block(const mi_v8f pre[4], int clip, float cell_clip, mi_v8f *c, mi_v8f *h)
{
    mi_v8f f = mi_v8_logistic(pre[0]), i = mi_v8_logistic(pre[1]), g = mi_v8_tanh(pre[2]);
    mi_v8f o = mi_v8_logistic(pre[3]);
    mi_v8f cell = mi_v8_clamp(f * *c) + mi_v8_clamp(i * g);
    if (clip) {
        cell = mi_v8_select(cell < MI_V8(cell_clip), cell, MI_V8(cell_clip));
        cell = mi_v8_select(cell < MI_V8(-cell_clip), MI_V8(-cell_clip), cell);
    }
    *c = cell;
    *h = mi_v8_clamp(mi_v8_tanh(cell) * o);
}

typedef void (*mi_lstm_cells_fn)(const float *, const float *, int64_t, int, float, float *, float *);

/* Up to 8 floats from p into the low lanes, zeros above. */
MI_ALWAYS_INLINE mi_v8f mi_v8_load(const float *p, int64_t lanes)
{
    mi_v8f v = MI_V8(0.0f);
    if (lanes == 8)
        memcpy(&v, p, sizeof v); /* a constant size: one unaligned vector load */
    else
        memcpy(&v, p, lanes * sizeof(float));
    return v;
}

MI_ALWAYS_INLINE void mi_v8_store(float *p, mi_v8f v, int64_t lanes)
{
    if (lanes == 8)
        memcpy(p, &v, sizeof v);
    else
        memcpy(p, &v, lanes * sizeof(float));
}

/* One batch row: x_gates and h_gates hold the input and recurrent FCs of the four gates (n units each,
 * forget, input, cell, output); cell and hidden (n each) are updated in place. */
MI_ALWAYS_INLINE void mi_lstm_cells_kind(const float *x_gates, const float *h_gates, int64_t n, int clip,
                                         float cell_clip, float *cell, float *hidden)
{
    for (int64_t u = 0; u < n; u += 8) {
        int64_t lanes = n - u < 8 ? n - u : 8;
        mi_v8f pre[4], c = mi_v8_load(cell + u, lanes), h;
        for (int gate = 0; gate < 4; gate++)
            pre[gate] = mi_v8_load(x_gates + gate * n + u, lanes) + mi_v8_load(h_gates + gate * n + u, lanes);
        mi_lstm_cells_block(pre, clip, cell_clip, &c, &h);
        mi_v8_store(cell + u, c, lanes);
        mi_v8_store(hidden + u, h, lanes);
    }
}

static void mi_lstm_cells_portable(const float *x_gates, const float *h_gates, int64_t n, int clip,
                                   float cell_clip, float *cell, float *hidden)
{
    mi_lstm_cells_kind(x_gates, h_gates, n, clip, cell_clip, cell, hidden);
}

#ifdef MI_X86
__attribute__((target("avx2")))
static void mi_lstm_cells_avx2(const float *x_gates, const float *h_gates, int64_t n, int clip, float cell_clip,
                               float *cell, float *hidden)
{
    mi_lstm_cells_kind(x_gates, h_gates, n, clip, cell_clip, cell, hidden);
}
#endif

static mi_lstm_cells_fn mi_select_lstm_cells(int force_portable)
{
    return MI_PICK(force_portable, mi_lstm_cells_avx2, mi_lstm_cells_portable);
}

#endif
