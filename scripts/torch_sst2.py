#!/usr/bin/env python3
"""The PyTorch peer of `dnnkit sst2` (the sst2-default row of `npm run bench`): the same network
and training recipe, written with PyTorch's own modules. It need not match dnnkit bit for bit
(other random streams, other kernels); it is the same model, data and schedule:

- data: data/sst2/{train,dev,test}.tsv as src/sst2/data.ts reads them (sentence<TAB>label, or
  GLUE's layout with a header; lower-cased, split on white space); sentences longer than
  --max-len (default: the longest training sentence) keep their last tokens;
- vocabulary: words seen --min-count times in train (most frequent first), ids 0 <pad>, 1 <oov>;
- subword vectors (--subwords N, after fastText: Bojanowski et al. 2017): the character 3- to
  5-grams of `<word>` found in at least N distinct training words; each word vector gets the
  mean vector of its n-grams added (nn.EmbeddingBag, mode 'mean');
- --ensemble networks, each: word vectors U(-0.05, 0.05) -> dropout -> --layers LSTM(--units)
  layers (bidirectional unless --no-bidirectional; Keras initialisation as src/sst2/model.ts:
  Glorot-uniform input kernels, orthogonal recurrent kernel per gate, forget-gate bias 1) ->
  --pooling over time -> dropout -> dense -> sigmoid; the ensemble averages the probabilities;
- training: length-bucketed batches of --batch-size (each network its own order), word dropout
  (--word-dropout of the tokens become <oov>), adversarial training on the word vectors
  (--adversarial, Miyato et al. 2017: the loss gradient with respect to the word vectors,
  scaled per sentence to that share of their norm, added as a second loss term), the sum of the
  networks' losses, each network's gradient clipped to norm --clip-norm, Adam (--learning-rate,
  epsilon 1e-7 as tfjs), decoupled weight decay of embeddings and kernels (--weight-decay);
- early stopping on the ensemble's dev accuracy (--early-stopping ensemble) or each network's
  own (network), --patience epochs, at most --epochs; dev and test accuracy of the kept weights.

Options take dnnkit sst2's names; scripts/bench.ts passes the current SST2_DEFAULTS. Options the
script does not implement (--cnn, --ema-decay, --oov-prefix) are refused unless 0.

Usage: /usr/bin/python3 scripts/torch_sst2.py [--data-dir data/sst2] [--ensemble 5] [--subwords 5]
           [--adversarial 0.2] [--epochs 12] [--patience 3] [--threads 1] [--train-limit N] [--seed 1] ...
Prints one JSON object on stdout: {"seconds", "devAccuracy", "testAccuracy", "threads", "epochs",
"bestEpoch", "trainSentencesPerSecond", "settings"}; one line per epoch on stderr.
"""
import argparse
import copy
import json
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD_ID, OOV_ID = 0, 1
SUBWORD_NGRAMS = (3, 5)
HEADER_NAMES = {'sentence', 'label', 'index', 'idx', 'id'}
POOLINGS = ('last', 'max', 'mean', 'meanmax')
# tfjs's Adam epsilon (dnnkit's optimizer); PyTorch's default is 1e-8.
ADAM_EPSILON = 1e-7


def read_split(path):
    """[(tokens, label or None)] of one TSV file (the layouts of src/sst2/data.ts parseSst2Tsv)."""
    with open(path, encoding='utf-8') as f:
        lines = [line[:-1] if line.endswith('\r') else line for line in f.read().split('\n')]
    rows = [line.split('\t') for line in lines if line != '']
    first = [c.strip().lower() for c in rows[0]]
    header = first if 'sentence' in first and all(c in HEADER_NAMES for c in first) else None
    columns = header or ['sentence', 'label']
    s = columns.index('sentence')
    lab = columns.index('label') if 'label' in columns else -1
    out = []
    for r in rows[1:] if header else rows:
        if len(r) != len(columns):
            raise SystemExit(f'{path}: a line has {len(r)} cells, expected {len(columns)} ({", ".join(columns)})')
        out.append((r[s].lower().split(), int(r[lab].strip()) if lab >= 0 else None))
    return out


def char_ngrams(word):
    """The distinct character 3- to 5-grams of `<word>`."""
    w = f'<{word}>'
    return sorted({w[i:i + n] for n in range(SUBWORD_NGRAMS[0], SUBWORD_NGRAMS[1] + 1) for i in range(len(w) - n + 1)})


def most_first(counts, minimum):
    """Keys counted at least `minimum` times, most counted first, ties alphabetical."""
    return sorted((k for k, n in counts.items() if n >= minimum), key=lambda k: (-counts[k], k))


class Vocabulary:
    def __init__(self, train, min_count, max_len, subword_min_types):
        counts = {}
        for tokens, _ in train:
            for t in tokens:
                counts[t] = counts.get(t, 0) + 1
        self.tokens = ['<pad>', '<oov>'] + [t for t in most_first(counts, min_count) if t not in ('<pad>', '<oov>')]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.max_len = max_len or max(1, *(len(t) for t, _ in train))
        gram_types = {}
        if subword_min_types > 0:
            for word in counts:
                for g in char_ngrams(word):
                    gram_types[g] = gram_types.get(g, 0) + 1
        self.subwords = most_first(gram_types, subword_min_types) if subword_min_types > 0 else []
        self.subword_index = {g: i for i, g in enumerate(self.subwords)}

    def encode(self, tokens):
        """Token ids (the last max_len tokens) and, per token, the ids of its n-grams that have a vector."""
        kept = tokens[-self.max_len:]
        ids = [self.index.get(t, OOV_ID) for t in kept]
        grams = [[self.subword_index[g] for g in char_ngrams(t) if g in self.subword_index] for t in kept] if self.subwords else None
        return ids, grams


def encode_split(examples, vocab):
    enc = [vocab.encode(tokens) for tokens, _ in examples]
    return {'ids': [e[0] for e in enc], 'grams': [e[1] for e in enc], 'labels': [lab for _, lab in examples]}


def length_batches(lengths, batch_size, rng=None):
    """Batches of sentences of one length (src/sst2/data.ts lengthBatches): shuffled with `rng`, else by length in file order."""
    by_length = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(n, []).append(i)
    batches = []
    for n in sorted(by_length):
        idx = by_length[n][:]
        if rng:
            rng.shuffle(idx)
        batches += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    if rng:
        rng.shuffle(batches)
    return batches


def batch_inputs(split, idx, word_dropout=0.0, gen=None):
    """ids [batch, time] (word dropout: that share becomes <oov>), labels [batch], and the
    EmbeddingBag input of the tokens' n-grams (flat ids, offsets per token, batch-major) or None."""
    ids = torch.tensor([split['ids'][i] for i in idx], dtype=torch.long)
    if word_dropout > 0:
        ids = ids.masked_fill(torch.rand(ids.shape, generator=gen) < word_dropout, OOV_ID)
    labels = torch.tensor([max(0, split['labels'][i] or 0) for i in idx], dtype=torch.float32)
    sub = None
    if split['grams'][idx[0]] is not None:
        flat, offsets = [], []
        for i in idx:
            for grams in split['grams'][i]:
                offsets.append(len(flat))
                flat += grams
        sub = (torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long))
    return ids, labels, sub


class LstmNetwork(nn.Module):
    """One network of the ensemble (src/sst2/model.ts LstmSentimentClassifier)."""

    def __init__(self, vocab_size, subwords, a):
        super().__init__()
        self.units, self.dropout, self.pooling, self.bidirectional = a.units, a.dropout, a.pooling, a.bidirectional
        self.embedding = nn.Parameter(torch.empty(vocab_size, a.embedding_dim).uniform_(-0.05, 0.05))
        self.lstm = nn.LSTM(a.embedding_dim, a.units, num_layers=a.layers, bidirectional=a.bidirectional,
                            dropout=a.dropout if a.layers > 1 else 0.0, batch_first=True)
        u = a.units
        for name, p in self.lstm.named_parameters():
            with torch.no_grad():
                if name.startswith('weight_ih'):  # [4u, in]: Glorot uniform over (in, 4u)
                    limit = (6 / (p.shape[1] + 4 * u)) ** 0.5
                    p.uniform_(-limit, limit)
                elif name.startswith('weight_hh'):  # [4u, u]: an orthogonal block per gate (i, f, g, o)
                    for g in range(4):
                        nn.init.orthogonal_(p[g * u:(g + 1) * u])
                elif name.startswith('bias_ih'):
                    p.zero_()
                    p[u:2 * u] = 1.0  # forget gate (Jozefowicz et al. 2015)
                else:  # bias_hh: dnnkit has one bias per cell
                    p.zero_()
        dirs = 2 if a.bidirectional else 1
        pooled = u * dirs * (2 if a.pooling == 'meanmax' else 1)
        self.dense = nn.Linear(pooled, 1)
        with torch.no_grad():
            limit = (6 / (pooled + 1)) ** 0.5
            self.dense.weight.uniform_(-limit, limit)
            self.dense.bias.zero_()
        self.subword_embedding = None
        if subwords > 0:
            self.subword_embedding = nn.EmbeddingBag(subwords, a.embedding_dim, mode='mean')
            with torch.no_grad():
                self.subword_embedding.weight.uniform_(-0.05, 0.05)

    def word_vectors(self, ids, sub):
        """[batch, time, dim]: each word's vector plus the mean of its n-grams' (zero without any)."""
        words = F.embedding(ids, self.embedding)
        if self.subword_embedding is not None and sub is not None and sub[0].numel() > 0:
            words = words + self.subword_embedding(sub[0], sub[1]).view(words.shape)
        return words

    def logits(self, words):
        """[batch] logits of P(positive) from the word vectors."""
        hs, _ = self.lstm(F.dropout(words, self.dropout, self.training))  # [batch, time, dirs * units]
        u = self.units
        if self.pooling == 'last':
            pooled = torch.cat([hs[:, -1, :u], hs[:, 0, u:]], 1) if self.bidirectional else hs[:, -1]
        elif self.pooling == 'max':
            pooled = hs.max(1).values
        elif self.pooling == 'mean':
            pooled = hs.mean(1)
        else:
            pooled = torch.cat([hs.mean(1), hs.max(1).values], 1)
        return self.dense(F.dropout(pooled, self.dropout, self.training)).squeeze(-1)


def adversarial_perturbation(net, words, labels, share):
    """Miyato et al. 2017: the loss gradient with respect to the word vectors, scaled per sentence
    to `share` of the L2 norm of the sentence's word vectors (over time and dimension); a constant."""
    p = torch.zeros_like(words, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(net.logits(words.detach() + p), labels)
    g, = torch.autograd.grad(loss, p)

    def norm(t):
        return t.pow(2).sum((1, 2), keepdim=True).sqrt()
    return (g * (norm(words.detach()) * share / (norm(g) + 1e-12))).detach()


@torch.no_grad()
def predict(net, split, batch_size=128):
    """P(positive) for every sentence of a split, in split order."""
    net.eval()
    probs = torch.zeros(len(split['ids']))
    for idx in length_batches([len(s) for s in split['ids']], batch_size):
        ids, _, sub = batch_inputs(split, idx)
        probs[idx] = torch.sigmoid(net.logits(net.word_vectors(ids, sub)))
    return probs


def accuracy(probs, labels):
    if any(lab is None for lab in labels):
        return None
    return float(((probs >= 0.5).long() == torch.tensor(labels)).float().mean())


def parse_args():
    ap = argparse.ArgumentParser(description='PyTorch peer of dnnkit sst2 (see the file header)')
    ap.add_argument('--data-dir', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'sst2'))
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--patience', type=int, default=3)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--learning-rate', type=float, default=0.002)
    ap.add_argument('--clip-norm', type=float, default=5.0)
    ap.add_argument('--weight-decay', type=float, default=0.0)
    ap.add_argument('--ema-decay', type=float, default=0.0)
    ap.add_argument('--ensemble', type=int, default=5)
    ap.add_argument('--cnn', type=int, default=0)
    ap.add_argument('--cnn-filters', type=int, default=0, help='accepted for dnnkit\'s option list; CNN members are not implemented')
    ap.add_argument('--early-stopping', choices=('ensemble', 'network'), default='ensemble')
    ap.add_argument('--adversarial', type=float, default=0.2)
    ap.add_argument('--units', type=int, default=128)
    ap.add_argument('--layers', type=int, default=1)
    ap.add_argument('--bidirectional', action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument('--pooling', choices=POOLINGS, default='max')
    ap.add_argument('--embedding-dim', type=int, default=128)
    ap.add_argument('--dropout', type=float, default=0.5)
    ap.add_argument('--min-count', type=int, default=2)
    ap.add_argument('--word-dropout', type=float, default=0.1)
    ap.add_argument('--oov-prefix', type=int, default=0)
    ap.add_argument('--subwords', type=int, default=5)
    ap.add_argument('--max-len', type=int, default=None)
    ap.add_argument('--train-limit', type=int, default=None, help='train on a random subset of this many sentences (quick runs)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    for flag, value, what in (('--cnn', a.cnn, 'CNN ensemble members'), ('--ema-decay', a.ema_decay, 'weight averaging'),
                              ('--oov-prefix', a.oov_prefix, 'prefix back-off of unknown words')):
        if value:
            raise SystemExit(f'torch_sst2.py does not implement {flag} ({what}); got {value}: give {flag} 0 or extend the script')
    if a.ensemble < 1:
        raise SystemExit(f'--ensemble must be at least 1 (got {a.ensemble}): the script trains LSTM networks only')
    return a


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    started = time.perf_counter()
    splits = {name: read_split(os.path.join(a.data_dir, f'{name}.tsv')) for name in ('train', 'dev', 'test')}
    train_examples = splits['train']
    if a.train_limit:
        train_examples = rng.sample(train_examples, min(a.train_limit, len(train_examples)))
    vocab = Vocabulary(train_examples, a.min_count, a.max_len, a.subwords)
    train, dev, test = (encode_split(e, vocab) for e in (train_examples, splits['dev'], splits['test']))
    print(f'vocabulary {len(vocab.tokens)} words, {len(vocab.subwords)} subword n-grams, max length {vocab.max_len}; '
          f'train {len(train["ids"])}, dev {len(dev["ids"])}, test {len(test["ids"])}; {a.threads} thread(s)', file=sys.stderr)
    nets = [LstmNetwork(len(vocab.tokens), len(vocab.subwords), a) for _ in range(a.ensemble)]
    params = [p for net in nets for p in net.parameters()]
    decaying = [p for net in nets for name, p in net.named_parameters() if 'bias' not in name]
    opt = torch.optim.Adam(params, lr=a.learning_rate, eps=ADAM_EPSILON)
    per_network = a.early_stopping == 'network' and len(nets) > 1
    best = {'epoch': 0, 'acc': -1.0}
    net_best = [{'epoch': 0, 'acc': -1.0} for _ in nets]
    kept = [None] * len(nets)  # per network: (state_dict, dev probs) at its best epoch (--early-stopping network)
    best_states = None  # every network's state_dict at the best ensemble epoch
    lengths = [len(s) for s in train['ids']]
    train_seconds, train_sentences, epochs = 0.0, 0, 0
    for epoch in range(1, a.epochs + 1):
        epochs = epoch
        t0 = time.perf_counter()
        training = [k for k in range(len(nets)) if not per_network or epoch - 1 - net_best[k]['epoch'] < a.patience]
        orders = {k: length_batches(lengths, a.batch_size, rng) for k in training}
        loss_sum = 0.0
        for k in training:
            nets[k].train()
        for b in range(len(orders[training[0]])):
            opt.zero_grad(set_to_none=True)
            for k in training:
                net = nets[k]
                ids, labels, sub = batch_inputs(train, orders[k][b], a.word_dropout, gen)
                words = net.word_vectors(ids, sub)
                loss = F.binary_cross_entropy_with_logits(net.logits(words), labels)
                loss_sum += float(loss) * len(labels) / len(training)
                if a.adversarial > 0:
                    r = adversarial_perturbation(net, words, labels, a.adversarial)
                    loss = loss + F.binary_cross_entropy_with_logits(net.logits(words + r), labels)
                loss.backward()  # the sum of the networks' losses: each gets its own gradient
            if a.clip_norm > 0:
                for k in training:
                    nn.utils.clip_grad_norm_(nets[k].parameters(), a.clip_norm)
            opt.step()
            if a.weight_decay > 0:
                with torch.no_grad():
                    for p in decaying:
                        if p.grad is not None:
                            p.mul_(1 - a.learning_rate * a.weight_decay)
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        train_sentences += len(lengths)
        # Dev accuracy of the ensemble (mean probability), or with per-network stopping of the kept networks.
        if per_network:
            better = []
            for k in training:
                probs = predict(nets[k], dev)
                acc = accuracy(probs, dev['labels'])
                if acc > net_best[k]['acc']:
                    net_best[k] = {'epoch': epoch, 'acc': acc}
                    kept[k] = (copy.deepcopy(nets[k].state_dict()), probs)
                    better.append(k + 1)
            dev_acc = accuracy(torch.stack([p for _, p in kept]).mean(0), dev['labels'])
            improved = len(better) > 0
        else:
            dev_acc = accuracy(torch.stack([predict(net, dev) for net in nets]).mean(0), dev['labels'])
            improved = dev_acc > best['acc']
            if improved:
                best_states = [copy.deepcopy(net.state_dict()) for net in nets]
        if improved:
            best = {'epoch': epoch, 'acc': dev_acc}
        print(f'epoch {epoch}: loss {loss_sum / len(lengths):.4f} | dev acc {dev_acc:.4f}{" (best so far)" if improved else ""} | '
              f'{seconds:.1f} s, {len(lengths) / seconds:.0f} sentences/s', file=sys.stderr)
        if epoch - best['epoch'] >= a.patience:
            break
    for k, net in enumerate(nets):
        net.load_state_dict(kept[k][0] if per_network else best_states[k])
    dev_probs = torch.stack([predict(net, dev) for net in nets]).mean(0)
    test_probs = torch.stack([predict(net, test) for net in nets]).mean(0)
    settings = {k: v for k, v in vars(a).items() if k != 'data_dir'}
    print(json.dumps({
        'seconds': time.perf_counter() - started, 'devAccuracy': accuracy(dev_probs, dev['labels']),
        'testAccuracy': accuracy(test_probs, test['labels']), 'threads': torch.get_num_threads(), 'epochs': epochs,
        'bestEpoch': best['epoch'], 'trainSentencesPerSecond': train_sentences / max(train_seconds, 1e-9),
        'torch': torch.__version__, 'settings': settings,
    }))


if __name__ == '__main__':
    main()
