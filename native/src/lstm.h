// A whole LSTM layer over a sequence (forward and backprop through time) on row-major float32
// buffers, with dnnl_sgemm for the matrix products. See lstm.cc.
#pragma once
#include <cstdint>

namespace dnnkit {

struct LstmShape {
  int64_t time, batch, in, units;
  bool reverse;
};

// x [time, batch, in], wx [in, 4u], wh [u, 4u], b [4u] (gates i|f|g|o) ->
// h, c [time, batch, u] (in input time order), gates [time, batch, 4u] (activated i, f, g, o).
void LstmSeqForward(const LstmShape& s, const float* x, const float* wx, const float* wh, const float* b, float* h,
                    float* c, float* gates);

// dy [time, batch, u] (gradient reaching every h_t from outside the layer) plus the forward's
// x, wx, wh, h, c, gates -> dx [time, batch, in], dwx [in, 4u], dwh [u, 4u], db [4u].
void LstmSeqBackward(const LstmShape& s, const float* dy, const float* x, const float* wx, const float* wh,
                     const float* h, const float* c, const float* gates, float* dx, float* dwx, float* dwh, float* db);

}  // namespace dnnkit
