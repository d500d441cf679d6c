#!/usr/bin/env python3
"""PyTorch reference for benchmarks/perf/throughput.ts (measurement only, not part of prunebench): CPU, or CUDA
on a GPU machine (`--device auto` picks CUDA when torch sees a GPU; steps are timed to torch.cuda.synchronize()).

Defines the same networks as prunebench in plain torch -- ResNet-CIFAR with option-A shortcuts
(pytorch_resnet_cifar10: 3x3 stem, BasicBlocks, stride-2 subsample + zero-padded channels, global average
pool, linear) and a BERT-mini encoder (4 layers, hidden 256, 4 heads, intermediate 1024, separate
query/key/value projections, exact GELU, post-LN, tanh [CLS] pooler + classifier, no dropout -- as
prunebench's BertModel) -- and times the same steps:

  resnetN-train  forward + backward + SGD step (momentum 0.9, weight decay 5e-4, lr 0.01), batch norm in
                 training mode, mean cross-entropy; images/s
  resnetN-eval   forward in eval mode under torch.no_grad(); images/s
  bert-mini-train forward + backward + SGD step on [batch, seq] token ids with a 2-class head; sequences/s
                 (request "optimizer": "adamw": torch.optim.AdamW instead, betas 0.9/0.999, eps 1e-6, lr 2e-4,
                 decay 0.01 on Linear and Embedding weights only -- prunebench's GLUE recipe and MaskedAdamW)

Run as a server by throughput.ts (`--serve`): one JSON request per stdin line,
  {"case": "resnet20-train", "batch": 128, "steps": 2, "warmup": 1, "threads": 2}
one JSON answer per stdout line, {"case": ..., "seconds": [per-step wall seconds], "threads": n}. Models are
built on first use and kept, so every request after the first is already warm. Or stand-alone:
  python3 torch_reference.py --case resnet20-train --batch 128 --steps 3
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- ResNet-CIFAR, option A

class ShortcutA(nn.Module):
    def __init__(self, stride, in_planes, planes):
        super().__init__()
        self.stride = stride
        self.before = (planes - in_planes) // 2
        self.after = planes - in_planes - self.before

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(stride, in_planes, planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, depth, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for stage, planes in enumerate([16, 32, 64]):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.linear(x)


# ---------------------------------------------------------------- BERT-mini encoder

class BertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate, dropout):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, intermediate)
        self.ffn_out = nn.Linear(intermediate, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask_bias):
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = (proj(x).view(b, s, self.heads, d).transpose(1, 2) for proj in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + mask_bias
        probs = self.dropout(scores.softmax(-1))
        ctx = (probs @ v).transpose(1, 2).reshape(b, s, h)
        x = self.ln1(x + self.dropout(self.attn_out(ctx)))
        return self.ln2(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))


class BertMini(nn.Module):
    def __init__(self, vocab=30522, hidden=256, layers=4, heads=4, intermediate=1024, max_len=512, classes=2, dropout=0.0):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_len, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, intermediate, dropout) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, ids, attention_mask):
        s = ids.shape[1]
        pos = torch.arange(s, device=ids.device)
        x = self.dropout(self.ln(self.word(ids) + self.position(pos)[None] + self.token_type.weight[0]))
        mask_bias = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_bias)
        return self.classifier(self.dropout(torch.tanh(self.pooler(x[:, 0]))))


# ---------------------------------------------------------------- cases

DEVICE = torch.device('cpu')


def synchronize():
    if DEVICE.type == 'cuda':
        torch.cuda.synchronize()


class Case:
    def __init__(self, name, batch, seq_len, optimizer='sgd'):
        torch.manual_seed(0)
        self.name = name
        self.batch = batch
        if name.startswith('resnet'):
            depth = int(name[len('resnet'):].split('-')[0])
            self.model = ResNetCifar(depth)
            self.x = torch.randn(batch, 3, 32, 32)
            self.y = torch.randint(0, 10, (batch,))
        elif name.startswith('bert-mini'):
            self.model = BertMini()
            self.x = torch.randint(0, 30522, (batch, seq_len))
            self.mask = torch.ones(batch, seq_len, dtype=torch.long)
            self.y = torch.randint(0, 2, (batch,))
        else:
            raise ValueError(f'unknown case {name}')
        self.model.to(DEVICE)
        self.x, self.y = self.x.to(DEVICE), self.y.to(DEVICE)
        if hasattr(self, 'mask'):
            self.mask = self.mask.to(DEVICE)
        self.train = name.endswith('-train')
        self.opt = None
        if self.train and optimizer == 'adamw':
            decayed = [m.weight for m in self.model.modules() if isinstance(m, (nn.Linear, nn.Embedding))]
            ids = {id(p) for p in decayed}
            rest = [p for p in self.model.parameters() if id(p) not in ids]
            self.opt = torch.optim.AdamW([{'params': decayed, 'weight_decay': 0.01}, {'params': rest, 'weight_decay': 0.0}],
                                         lr=2e-4, betas=(0.9, 0.999), eps=1e-6)
        elif self.train:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def logits(self):
        return self.model(self.x, self.mask) if self.name.startswith('bert') else self.model(self.x)

    def step(self):
        if self.train:
            self.model.train()
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.logits(), self.y)
            loss.backward()
            self.opt.step()
            return float(loss)
        self.model.eval()
        with torch.no_grad():
            return float(self.logits()[0, 0])


_cases = {}


def blas_library():
    """The BLAS shared library this process loaded (Debian's torch links libblas.so.3, whatever the
    alternative or LD_LIBRARY_PATH points at: the netlib reference by default, OpenBLAS where installed)."""
    try:
        with open('/proc/self/maps') as maps:
            paths = {line.split()[-1] for line in maps if 'blas' in line.split()[-1]}
        return sorted(os.path.realpath(p) for p in paths)
    except OSError:
        return []


def set_threads(n):
    torch.set_num_threads(n)
    # OpenBLAS keeps its own thread pool, which torch (built with BLAS_INFO=generic) does not size.
    for path in blas_library():
        if 'openblas' in path:
            try:
                ctypes.CDLL(path).openblas_set_num_threads(n)
            except (OSError, AttributeError):
                pass


def run(request):
    if 'threads' in request:
        set_threads(request['threads'])
    key = (request['case'], request['batch'], request.get('seqLen', 128), request.get('optimizer', 'sgd'))
    case = _cases.get(key)
    if case is None:
        case = _cases[key] = Case(*key)
    for _ in range(request.get('warmup', 0)):
        case.step()
    synchronize()
    seconds = []
    for _ in range(request['steps']):
        t0 = time.perf_counter()
        case.step()
        synchronize()
        seconds.append(time.perf_counter() - t0)
    return {'case': request['case'], 'batch': request['batch'], 'seconds': seconds, 'threads': torch.get_num_threads()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--serve', action='store_true')
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--case', default='resnet20-train')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto')
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device('cuda' if args.device == 'cuda' or (args.device == 'auto' and torch.cuda.is_available()) else 'cpu')
    torch.zeros(4, 4) @ torch.zeros(4, 4)  # loads the BLAS library, so that blas_library() sees it
    set_threads(args.threads)
    if args.serve:
        print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                          'device': torch.cuda.get_device_name(DEVICE) if DEVICE.type == 'cuda' else 'cpu',
                          'python': sys.version.split()[0], 'blas': blas_library(), 'parallel': torch.__config__.parallel_info().splitlines()[-1]}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                answer = run(json.loads(line))
            except Exception as error:  # answer with the error, keep serving
                answer = {'error': f'{type(error).__name__}: {error}'}
            print(json.dumps(answer), flush=True)
        return
    result = run({'case': args.case, 'batch': args.batch, 'steps': args.steps, 'warmup': 1})
    per_step = sorted(result['seconds'])[len(result['seconds']) // 2]
    print(f"{args.case} batch {args.batch}: {per_step * 1000:.1f} ms/step, {args.batch / per_step:.1f} per s, {result['threads']} threads")


if __name__ == '__main__':
    main()
