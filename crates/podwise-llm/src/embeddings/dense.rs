//! Full-precision (f32) weight matrices, for models shipped unquantised such as
//! all-MiniLM-L6-v2.
//!
//! Four weight rows are multiplied with one token at a time in eight-lane accumulators,
//! a shape LLVM vectorises with AVX2 and that reads each token's activations once per
//! four outputs.

const LANES: usize = 8;
const ROWS: usize = 4;

/// An f32 weight matrix with its bias, `rows` outputs by `cols` inputs, row-major.
#[derive(Debug)]
pub(crate) struct DenseMatrix {
    rows: usize,
    cols: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl DenseMatrix {
    /// Builds a matrix from row-major weights and a bias of length `rows`.
    pub fn new(weights: Vec<f32>, bias: Vec<f32>, rows: usize, cols: usize) -> Self {
        assert_eq!(weights.len(), rows * cols);
        assert_eq!(bias.len(), rows);
        Self {
            rows,
            cols,
            weights,
            bias,
        }
    }

    /// Stacks matrices with the same input width, their outputs side by side.
    pub fn stack(parts: Vec<Self>) -> Self {
        let cols = parts.first().map_or(0, |p| p.cols);
        assert!(parts.iter().all(|p| p.cols == cols));
        let rows = parts.iter().map(|p| p.rows).sum();
        let (mut weights, mut bias) = (Vec::new(), Vec::new());
        for p in parts {
            weights.extend(p.weights);
            bias.extend(p.bias);
        }
        Self::new(weights, bias, rows, cols)
    }

    /// The number of outputs per token.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `out[t] = W · x[t] + bias` for each token, split by tokens over `threads`.
    pub fn forward(&self, x: &[f32], out: &mut [f32], threads: usize) {
        super::parallel::for_rows(out, self.rows, threads, |first, chunk| {
            let tokens = chunk.len() / self.rows;
            self.forward_tokens(&x[first * self.cols..][..tokens * self.cols], chunk);
        });
    }

    /// Rows outermost: four weight rows stay in L1 while every token passes by, instead
    /// of the whole matrix streaming from memory once per token.
    fn forward_tokens(&self, x: &[f32], out: &mut [f32]) {
        let mut row = 0;
        while row + ROWS <= self.rows {
            let w: [&[f32]; ROWS] =
                std::array::from_fn(|r| &self.weights[(row + r) * self.cols..][..self.cols]);
            for (x, y) in x
                .chunks_exact(self.cols)
                .zip(out.chunks_exact_mut(self.rows))
            {
                let dots = dots4(&w, x);
                for r in 0..ROWS {
                    y[row + r] = self.bias[row + r] + dots[r];
                }
            }
            row += ROWS;
        }
        for r in row..self.rows {
            let w = &self.weights[r * self.cols..][..self.cols];
            for (x, y) in x
                .chunks_exact(self.cols)
                .zip(out.chunks_exact_mut(self.rows))
            {
                y[r] = self.bias[r] + super::math::dot(x, w);
            }
        }
    }
}

/// Four dot products of `x` with the rows `w`, in eight-lane accumulators.
#[inline(always)]
fn dots4(w: &[&[f32]; ROWS], x: &[f32]) -> [f32; ROWS] {
    let full = x.len() / LANES * LANES;
    let mut acc = [[0.0f32; LANES]; ROWS];
    for j in (0..full).step_by(LANES) {
        let xs = &x[j..j + LANES];
        for r in 0..ROWS {
            let ws = &w[r][j..j + LANES];
            for l in 0..LANES {
                acc[r][l] = super::math::mul_add(xs[l], ws[l], acc[r][l]);
            }
        }
    }
    std::array::from_fn(|r| {
        acc[r].iter().sum::<f32>() + super::math::dot(&x[full..], &w[r][full..])
    })
}
