/** Neighbourhood-preservation metrics for projections. Work in progress: signatures are final. */

/** Trustworthiness (Venna & Kaski 2001) as sklearn.manifold.trustworthiness, Euclidean; in [0, 1]. */
export function trustworthiness(high: ArrayLike<number>[], low: ArrayLike<number>[], k: number): number {
  void high;
  void low;
  void k;
  throw new Error('trustworthiness: not implemented yet');
}

/** Leave-one-out k-NN classification accuracy, majority vote, ties broken by the nearest. */
export function knnAccuracy(points: ArrayLike<number>[], labels: (string | number)[], k: number): number {
  void points;
  void labels;
  void k;
  throw new Error('knnAccuracy: not implemented yet');
}
