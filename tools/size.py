#!/usr/bin/env python3
"""Footprint of the core on a microcontroller (`make size`).

Builds the staticlib for thumbv7m-none-eabi (release profile: LTO,
opt-level "s"), links it with `--gc-sections` keeping every `mpble_*`
function of the C ABI, and prints:

- text, rodata, data and bss of the result (arm-none-eabi-size);
- each layer's share of flash, by the demangled path of every symbol that
  survived the link (arm-none-eabi-nm -S -C). With LTO most functions are
  inlined into their callers, so a layer's share is the code of its
  *surviving* symbols: code inlined into `ffi` or `api` counts there;
- each layer's share of static RAM: the core has one static
  (`ffi::FIRMWARE`, the `api::Firmware` the C ABI drives), which the DWARF
  of the link splits by the type of each field;
- every byte of `.data` that is not zero, mapped through DWARF to the field
  that holds it: those bytes are why a static lands in `.data` (RAM *and*
  flash for its initial image) instead of `.bss` (RAM only).

With `--firmware ELF --firmware-without ELF` (what `make size` passes:
build/qemu-mps2/firmware.elf and build/qemu-mps2-nomodule/firmware.elf,
MicroPython's qemu port for MPS2_AN385 built with and without
USER_C_MODULES) it first prints the firmware row: text, data and bss of
both (arm-none-eabi-size, Berkeley: text includes rodata) and what the
module adds (the Rust core as linked there, the C module, the HAL and the
board glue).

Only arm-none-eabi binutils and python3 are needed (tools/setup.sh installs
binutils-arm-none-eabi). `--no-build` reuses the last build.
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "thumbv7m-none-eabi"
OUT = os.path.join(ROOT, "build", "size")
TOOLS = "arm-none-eabi-"

# Layers, by the first `mpble::` path in a demangled symbol (or DWARF type).
LAYERS = [
    ("api::quecpython", "api::quecpython"),
    ("api::pycom", "api::pycom"),
    ("api", "api"),
    ("hci", "hci"),
    ("l2cap", "l2cap"),
    ("att", "att"),
    ("gatt", "gatt"),
    ("gap", "gap"),
    ("host", "host"),
    ("smp", "smp"),
    ("ffi", "ffi"),
]
# SMP's crypto crates (README "Dependencies"): P-256 (p256 and what it is
# built on) and AES-128 (aes). Their code is SMP's cost as much as `smp`'s.
CRYPTO_CRATES = ("p256", "elliptic_curve", "primeorder", "crypto_bigint", "subtle", "aes", "cipher", "ff", "group")
CRYPTO = "smp crypto (p256, aes)"
LAYER_ORDER = [name for name, _ in LAYERS] + [CRYPTO, "mpble (uuid, config...)", "other (core, builtins, heapless)"]


def die(msg):
    sys.exit("size: " + msg)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    except FileNotFoundError:
        die(f"{cmd[0]} not found: run tools/setup.sh (installs binutils-arm-none-eabi)")
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr)
        die(f"{' '.join(cmd[:3])}... failed")


def layer_of(name):
    """Layer of a demangled symbol or type path: its first `mpble::` path;
    the C ABI's unmangled `mpble_*` functions are ffi."""
    if name.startswith("mpble_"):
        return "ffi"
    m = re.search(r"\bmpble::([A-Za-z_0-9:]+)", name)
    if not m:
        # The first crate path names the crate that owns the code (generic
        # code instantiated by mpble still starts with its own crate).
        c = re.match(r"[<&\s]*(?:impl\s+)?([a-z_0-9]+)::", name)
        if c and c.group(1) in CRYPTO_CRATES:
            return CRYPTO
        return "other (core, builtins, heapless)"
    path = m.group(1)
    for layer, prefix in LAYERS:
        if path == prefix or path.startswith(prefix + "::"):
            return layer
    return "mpble (uuid, config...)"


def build():
    cargo = os.environ.get("CARGO", "cargo")
    subprocess.run([cargo, "build", "--release", "--lib", "--target", TARGET],
                   cwd=ROOT, check=True)


def link():
    """Links the archive with gc-sections; returns the ELF's path."""
    os.makedirs(OUT, exist_ok=True)
    lib = os.path.join(OUT, "libmpble.a")
    shutil.copyfile(os.path.join(ROOT, "target", TARGET, "release", "libmpble.a"), lib)
    # Rust leaves LLVM bitcode (.llvmbc) in each object; binutils would hand
    # it to a host LLVM plugin that cannot read it. The machine code is all
    # we link, so the bitcode goes.
    run([TOOLS + "objcopy", "--remove-section=.llvmbc", "--remove-section=.llvmcmd", lib])
    syms = run([TOOLS + "nm", "--defined-only", "-g", lib])
    keep, defined = set(), set()
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) == 3:
            defined.add(parts[2])
            if parts[1] == "T" and parts[2].startswith("mpble_"):
                keep.add(parts[2])
    undef = set()
    for line in run([TOOLS + "nm", "--undefined-only", "-g", lib]).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("mpble_") and parts[1] not in defined:
            undef.add(parts[1])
    # The C ABI must be whole: every function of include/mpble.h is kept.
    with open(os.path.join(ROOT, "include", "mpble.h")) as f:
        header = set(re.findall(r"\b(mpble_[a-z0-9_]+)\s*\(", f.read()))
    missing = header - keep - undef
    if missing:
        die("header functions not in the archive: " + ", ".join(sorted(missing)))
    # Stubs for what the library imports from the port (mpble_port_fatal...).
    stub_s = os.path.join(OUT, "stubs.s")
    with open(stub_s, "w") as f:
        f.write(".syntax unified\n.thumb\n.text\n")
        for s in sorted(undef):
            f.write(f".global {s}\n.type {s},%function\n.thumb_func\n{s}:\n    b .\n")
        f.write('.section .note.GNU-stack,"",%progbits\n')
    stub_o = os.path.join(OUT, "stubs.o")
    run([TOOLS + "as", "-mcpu=cortex-m3", "-mthumb", stub_s, "-o", stub_o])
    elf = os.path.join(OUT, "mpble.elf")
    cmd = [TOOLS + "ld", "--gc-sections", "--entry=0", "-o", elf]
    for s in sorted(keep):
        cmd += ["-u", s]
    run(cmd + [stub_o, lib])
    return elf, len(keep), sorted(undef)


def sections(elf):
    out = {}
    for line in run([TOOLS + "size", "-A", elf]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out


KIND = {"t": "text", "r": "rodata", "d": "data", "b": "bss"}


def symbols(elf):
    """(kind, size, demangled name) of every sized symbol."""
    out = []
    for line in run([TOOLS + "nm", "-S", "--size-sort", "-C", elf]).splitlines():
        m = re.match(r"([0-9a-f]+) ([0-9a-f]+) (\w) (.*)", line)
        if m and m.group(3).lower() in KIND:
            out.append((KIND[m.group(3).lower()], int(m.group(2), 16), m.group(4)))
    return out


# --- DWARF (arm-none-eabi-readelf --debug-dump=info) -------------------------

class Die:
    __slots__ = ("off", "tag", "attrs", "children", "parent")

    def __init__(self, off, tag, parent):
        self.off, self.tag, self.attrs, self.children, self.parent = off, tag, {}, [], parent


def parse_dwarf(elf):
    text = run([TOOLS + "readelf", "--debug-dump=info", elf])
    dies, stack = {}, []
    head = re.compile(r"\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: (\d+)(?: \((\w+)\))?")
    attr = re.compile(r"\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*: (.*)")
    cur = None
    for line in text.splitlines():
        m = head.match(line)
        if m:
            depth = int(m.group(1))
            del stack[depth:]
            if m.group(3) == "0":
                cur = None
                continue
            parent = stack[-1] if stack else None
            cur = Die(int(m.group(2), 16), m.group(4), parent)
            dies[cur.off] = cur
            if parent:
                parent.children.append(cur)
            stack.append(cur)
            continue
        m = attr.match(line)
        if m and cur is not None:
            val = m.group(2).strip()
            s = re.match(r"\(indirect string, offset: 0x[0-9a-f]+\): (.*)", val)
            if s:
                val = s.group(1)
            cur.attrs[m.group(1)] = val
    return dies


def ref(die, name="DW_AT_type"):
    v = die.attrs.get(name)
    m = v and re.match(r"<0x([0-9a-f]+)>", v)
    return int(m.group(1), 16) if m else None


def num(die, name):
    v = die.attrs.get(name)
    m = v and re.match(r"(-?\d+)", v)
    return int(m.group(1)) if m else None


def path_of(die):
    parts, d = [], die
    while d is not None:
        if d.tag in ("DW_TAG_namespace", "DW_TAG_structure_type", "DW_TAG_enumeration_type",
                     "DW_TAG_union_type") and "DW_AT_name" in d.attrs:
            parts.append(d.attrs["DW_AT_name"])
        d = d.parent
    return "::".join(reversed(parts))


class Types:
    def __init__(self, dies):
        self.d = dies

    def get(self, off):
        d = self.d[off]
        while d.tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type"):
            d = self.d[ref(d)]
        return d

    def size(self, t):
        if t.tag == "DW_TAG_array_type":
            n = 1
            for c in t.children:
                if c.tag == "DW_TAG_subrange_type":
                    n *= num(c, "DW_AT_count") or 0
            return n * self.size(self.get(ref(t)))
        if t.tag == "DW_TAG_pointer_type":
            return num(t, "DW_AT_byte_size") or 4
        return num(t, "DW_AT_byte_size") or 0

    def members(self, t):
        return [c for c in t.children if c.tag == "DW_TAG_member"
                and num(c, "DW_AT_data_member_location") is not None]

    def variant_part(self, t):
        return next((c for c in t.children if c.tag == "DW_TAG_variant_part"), None)


def find_type(dies, path):
    for d in dies.values():
        if d.tag == "DW_TAG_structure_type" and num(d, "DW_AT_byte_size") \
                and path_of(d) == path and "DW_AT_declaration" not in d.attrs:
            return d
    return None


def ram_by_layer(types, t, layer, acc):
    """Adds the bytes of type `t` to `acc`, by the layer of the innermost
    mpble struct holding them (containers and padding count to their owner)."""
    p = path_of(t)
    if p.startswith("mpble::"):
        layer = layer_of(p)
    ms = types.members(t) if t.tag == "DW_TAG_structure_type" and not types.variant_part(t) else []
    if not ms or not p.startswith("mpble::"):
        acc[layer] += types.size(t)
        return
    ms = sorted(ms, key=lambda m: num(m, "DW_AT_data_member_location"))
    total = types.size(t)
    used = 0
    for m in ms:
        mt = types.get(ref(m))
        ram_by_layer(types, mt, layer, acc)
        used += types.size(mt)
    acc[layer] += total - used  # padding


def type_name(types, t):
    if t.tag == "DW_TAG_array_type":
        n = [num(c, "DW_AT_count") or 0 for c in t.children if c.tag == "DW_TAG_subrange_type"]
        return f"[{type_name(types, types.get(ref(t)))}; {', '.join(map(str, n))}]"
    return path_of(t) or t.attrs.get("DW_AT_name", t.tag)


def field_tree(types, t, prefix, depth, min_bytes, out):
    """Fields of `t` of at least `min_bytes`, `depth` levels down."""
    if depth == 0 or t.tag != "DW_TAG_structure_type" or types.variant_part(t):
        return
    for m in sorted(types.members(t), key=lambda m: num(m, "DW_AT_data_member_location")):
        mt = types.get(ref(m))
        sz = types.size(mt)
        if sz < min_bytes:
            continue
        name = prefix + m.attrs.get("DW_AT_name", "?")
        out.append((name, sz, type_name(types, mt)))
        if path_of(mt).startswith("mpble::"):
            field_tree(types, mt, name + ".", depth - 1, min_bytes, out)


def locate(types, t, off, path, image, base):
    """Field path of byte `off` of a value of type `t` whose bytes are
    `image[base:]`; descends structs, arrays and the active enum variant."""
    if t.tag == "DW_TAG_array_type":
        et = types.get(ref(t))
        es = types.size(et)
        if es == 0:
            return path, t
        i = off // es
        return locate(types, et, off - i * es, f"{path}[{i}]", image, base + i * es)
    if t.tag != "DW_TAG_structure_type":
        return path, t
    vp = types.variant_part(t)
    if vp is not None:
        discr = next((c for c in vp.children if c.tag == "DW_TAG_member"), None)
        if discr is None:  # single-variant enum
            var = next((c for c in vp.children if c.tag == "DW_TAG_variant"), None)
        else:
            doff = num(discr, "DW_AT_data_member_location")
            dsz = types.size(types.get(ref(discr)))
            dval = int.from_bytes(image[base + doff: base + doff + dsz], "little")
            variants = [c for c in vp.children if c.tag == "DW_TAG_variant"]
            var = next((v for v in variants if num(v, "DW_AT_discr_value") == dval), None) \
                or next((v for v in variants if "DW_AT_discr_value" not in v.attrs), None)
            if doff <= off < doff + dsz:
                vname = "?"
                if var is not None:
                    vm = next((c for c in var.children if c.tag == "DW_TAG_member"), None)
                    vname = vm.attrs.get("DW_AT_name", "?") if vm is not None else "?"
                # A niche: the tag is stored in a field of the dataful
                # variant (e.g. None as an out-of-range enum value).
                niche = ""
                dataful = next((v for v in variants if "DW_AT_discr_value" not in v.attrs), None)
                dm = dataful and next((c for c in dataful.children if c.tag == "DW_TAG_member"), None)
                if dm is not None:
                    dt = types.get(ref(dm))
                    do = num(dm, "DW_AT_data_member_location") or 0
                    if do <= off < do + types.size(dt):
                        inner, _ = locate(types, dt, off - do, "", image, base + do)
                        niche = f", niche in {dm.attrs.get('DW_AT_name', '?')}{inner}"
                return f"{path} <tag of {path_of(t)} = {vname}{niche}>", None
        if var is None:
            return path, t
        vm = next((c for c in var.children if c.tag == "DW_TAG_member"), None)
        if vm is None:
            return path, t
        vt = types.get(ref(vm))
        vo = num(vm, "DW_AT_data_member_location") or 0
        name = vm.attrs.get("DW_AT_name", "?")
        if vo <= off < vo + types.size(vt):
            return locate(types, vt, off - vo, f"{path}<{name}>", image, base + vo)
        return f"{path}<{name}> (padding)", t
    for m in types.members(t):
        mo = num(m, "DW_AT_data_member_location")
        mt = types.get(ref(m))
        if mo <= off < mo + types.size(mt):
            return locate(types, mt, off - mo, f"{path}.{m.attrs.get('DW_AT_name', '?')}",
                          image, base + mo)
    return f"{path} (padding)", t


def data_image(elf, sym):
    """Bytes of symbol `sym` in the ELF's .data, with its address and size."""
    addr = size = None
    for line in run([TOOLS + "nm", "-S", elf]).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == sym:
            addr, size = int(parts[0], 16), int(parts[1], 16)
    if addr is None:
        return None, 0, 0
    raw = os.path.join(OUT, "data.bin")
    run([TOOLS + "objcopy", "-O", "binary", "--only-section=.data", elf, raw])
    data_addr = sections(elf)[".data"][1]
    with open(raw, "rb") as f:
        blob = f.read()
    return blob[addr - data_addr: addr - data_addr + size], addr, size


def berkeley(elf):
    """(text, data, bss) of an ELF, as arm-none-eabi-size prints them."""
    lines = run([TOOLS + "size", "-B", elf]).splitlines()
    text, data, bss = (int(x) for x in lines[1].split()[:3])
    return text, data, bss


def firmware_row(with_elf, without_elf):
    for elf in (with_elf, without_elf):
        if not os.path.exists(elf):
            die(f"{elf} not found: run `make firmware-qemu firmware-qemu-nomodule` (or `make size`)")
    w, wo = berkeley(with_elf), berkeley(without_elf)
    d = tuple(a - b for a, b in zip(w, wo))
    print("Firmware: MicroPython's qemu port, board MPS2_AN385 (Cortex-M3), arm-none-eabi-size")
    print("(text includes rodata; flash = text + data, static RAM = data + bss).")
    print(f"  {'':<22} {'text':>8} {'data':>8} {'bss':>8}   {'flash':>9}   {'static RAM':>10}")
    for label, (t, da, b) in (("without the module", wo), ("with the module", w), ("the module adds", d)):
        print(f"  {label:<22} {t:>8} {da:>8} {b:>8}   {kb(t + da):>9}   {kb(da + b):>10}")
    print(f"  ({os.path.relpath(with_elf, ROOT)} vs {os.path.relpath(without_elf, ROOT)})")
    split = module_split(with_elf)
    if split:
        print("  of what the module adds, by where each symbol of the firmware comes from:")
        rest = list(d)
        for label, (t, da, b) in split:
            print(f"    {label:<34} {t:>8} {da:>8} {b:>8}   {kb(t + da):>9}   {kb(da + b):>10}")
            rest = [rest[0] - t, rest[1] - da, rest[2] - b]
        print(f"    {'the rest (QSTRs, MicroPython code':<34} {rest[0]:>8} {rest[1]:>8} {rest[2]:>8}"
              f"   {kb(rest[0] + rest[1]):>9}   {kb(rest[1] + rest[2]):>10}")
        print("     the module pulls in, alignment)")
    print()
    return d


def module_split(elf):
    """(label, (text, data, bss)) of the Rust core and of each C file of the
    module in a linked firmware: the sizes, in that ELF, of the symbols each
    object defines (static ones too). Objects are looked up beside the ELF's
    MicroPython build (every object under build/mp-qemu/micropython-port/);
    the core's symbols
    are those libmpble.a defines (link()'s copy, without the LLVM bitcode
    that would make nm hand the objects to an LLVM plugin)."""
    build = os.path.join(ROOT, "build", "mp-qemu", "micropython-port")
    lib = os.path.join(OUT, "libmpble.a")
    if not os.path.isdir(build) or not os.path.exists(lib):
        return None
    sized = collections.defaultdict(list)
    for line in run([TOOLS + "nm", "-S", elf]).splitlines():
        m = re.match(r"[0-9a-f]+ ([0-9a-f]+) (\w) (\S+)", line)
        if m:
            sized[m.group(3)].append((m.group(2).lower(), int(m.group(1), 16)))

    def totals(names):
        t = da = b = 0
        for name in names:
            for kind, size in sized.get(name, []):
                if kind in "tr":
                    t += size
                elif kind == "d":
                    da += size
                elif kind == "b":
                    b += size
        return t, da, b

    def defined(path):
        out = set()
        for line in run([TOOLS + "nm", "--defined-only", "--no-sort", path]).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].lower() in "trdb":
                out.add(parts[2])
        return out

    rows = [("Rust core (libmpble.a)", totals(defined(lib)))]
    objs = []
    for dirpath, _dirs, files in os.walk(build):
        objs += [os.path.join(dirpath, f) for f in files if f.endswith(".o")]
    for obj in sorted(objs, key=lambda o: (os.path.dirname(o), o)):
        rel = os.path.relpath(obj, build)
        rows.append((rel[:-2] + ".c", totals(defined(obj))))
    return rows


def kb(n):
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-build", action="store_true", help="reuse the last thumbv7m build")
    ap.add_argument("--fields", type=int, default=256,
                    help="list Firmware fields of at least this many bytes (default 256)")
    ap.add_argument("--firmware", help="firmware ELF built with the module (firmware row)")
    ap.add_argument("--firmware-without", help="the same firmware built without the module")
    args = ap.parse_args()
    if bool(args.firmware) != bool(args.firmware_without):
        die("--firmware and --firmware-without go together")
    if not args.no_build:
        build()
    elf, nkeep, stubs = link()
    if args.firmware:
        firmware_row(args.firmware, args.firmware_without)
    sec = sections(elf)
    text = sec.get(".text", (0, 0))[0] + sec.get(".ARM.exidx", (0, 0))[0]
    rodata = sec.get(".rodata", (0, 0))[0]
    data = sec.get(".data", (0, 0))[0]
    bss = sec.get(".bss", (0, 0))[0]
    print(f"mpble footprint: {TARGET}, release (LTO, opt-level \"s\"), ld --gc-sections,")
    print(f"{nkeep} C ABI functions kept; stubs for {', '.join(stubs) or 'nothing'}.")
    print(f"ELF: {os.path.relpath(elf, ROOT)}\n")
    print(f"  {'text':>8} {'rodata':>8} {'data':>8} {'bss':>8}   flash (text+rodata+data)  static RAM (data+bss)")
    print(f"  {text:>8} {rodata:>8} {data:>8} {bss:>8}   {text + rodata + data:>8} = {kb(text + rodata + data):>8}"
          f"      {data + bss:>8} = {kb(data + bss)}")
    # Goals of issue 6 section 3 (benchmarks, not tests).
    code = text + rodata
    print(f"  goals: .data ~0 (now {data} B); static RAM <= 8 KB in the microcontroller"
          f" configuration (now {kb(data + bss)});\n         flash <= 48 KB for the core with"
          f" QuecPython (now {kb(code + data)}, {kb(code)} without the .data image)\n")

    syms = symbols(elf)
    by = collections.defaultdict(lambda: collections.Counter())
    for kind, sz, name in syms:
        layer = "unnamed constants (.Lanon)" if name.startswith(".Lanon") else layer_of(name)
        by[layer][kind] += sz
    tot = collections.Counter()
    for c in by.values():
        tot.update(c)
    print("Flash by layer: demangled path of each surviving symbol (after LTO inlining,")
    print("code inlined into a caller counts to the caller's layer).")
    print("code % is the share of text+rodata; flash % also counts .data's initial image.")
    print(f"  {'layer':<32} {'text':>7} {'rodata':>7} {'data':>7} {'code %':>7} {'flash %':>8}")
    code = text + rodata
    flash = text + rodata + data
    order = LAYER_ORDER + ["unnamed constants (.Lanon)"]
    for layer in order:
        c = by.get(layer)
        if not c:
            continue
        f = c["text"] + c["rodata"] + c["data"]
        cp = 100 * (c["text"] + c["rodata"]) / code
        print(f"  {layer:<32} {c['text']:>7} {c['rodata']:>7} {c['data']:>7} {cp:>6.1f}% {100 * f / flash:>7.1f}%")
    un_t, un_r = text - tot["text"], rodata - tot["rodata"]
    print(f"  {'(no symbol: padding, exidx)':<32} {un_t:>7} {un_r:>7} {data - tot['data']:>7}"
          f" {100 * (un_t + un_r) / code:>6.1f}% {100 * (un_t + un_r + data - tot['data']) / flash:>7.1f}%")

    # Static RAM: the statics, and the one big one split by field type.
    statics = [(k, sz, n) for k, sz, n in syms if k in ("data", "bss")]
    print("\nStatic RAM: " + ", ".join(f"{n} ({k}, {sz} B)" for k, sz, n in statics))
    dies = parse_dwarf(elf)
    types = Types(dies)
    stack_t = find_type(dies, "mpble::api::Firmware")
    if stack_t is None:
        print("  (no DWARF for mpble::api::Firmware)")
        return
    acc = collections.Counter()
    ram_by_layer(types, stack_t, "api", acc)
    st = types.size(stack_t)
    print(f"mpble::api::Firmware is {st} B; by the layer of the innermost mpble type holding each byte:")
    for layer in order:
        if acc.get(layer):
            print(f"  {layer:<32} {acc[layer]:>7} {100 * acc[layer] / st:>6.1f}%")
    tree = []
    field_tree(types, stack_t, "", 4, args.fields, tree)
    print(f"\nFirmware fields of at least {args.fields} B (4 levels):")
    for name, sz, tname in tree:
        indent = "  " * name.count(".")
        print(f"  {indent}{name.split('.')[-1]:<{34 - len(indent)}} {sz:>6}  {tname}")

    # Why .data: the non-zero bytes of the initial image.
    for kind, sz, name in statics:
        if kind != "data" or name != "mpble::ffi::FIRMWARE":
            continue
        raw = [line.split() for line in run([TOOLS + "nm", "-S", elf]).splitlines()]
        mangled = next((p[3] for p in raw if len(p) == 4 and "ffi8FIRMWARE" in p[3]), None)
        if mangled is None:
            mangled = next((p[3] for p in raw if len(p) == 4 and "FIRMWARE" in p[3]), None)
        image, _, size = data_image(elf, mangled)
        if image is None:
            continue
        # Mutex<Firmware>: the lock flag sits first or last; find Firmware's place.
        wrap = size - st
        mutex_t = next((d for d in dies.values() if d.tag == "DW_TAG_structure_type"
                        and d.attrs.get("DW_AT_name", "").startswith("Mutex<mpble::api::Firmware")
                        and num(d, "DW_AT_byte_size") == size), None)
        spots = collections.OrderedDict()
        for off, b in enumerate(image):
            if not b:
                continue
            if mutex_t is not None:
                where, _ = locate(types, mutex_t, off, "FIRMWARE", image, 0)
            else:
                where, _ = locate(types, stack_t, off - wrap, "FIRMWARE", image, wrap)
            # spin::Mutex<Firmware> wraps the Firmware in data.value.
            where = re.sub(r"^FIRMWARE\.(inner\.)?data\.value\.", "Firmware.", where)
            key = re.sub(r"\[\d+\]", "[i]", where)
            e = spots.setdefault(key, [0, set(), off])
            e[0] += 1
            e[1].add(b)
        print(f"\nWhy {name} is in .data: {sum(e[0] for e in spots.values())} of its {size} bytes"
              " are not zero. Their fields ([i]: every element):")
        for key, (n, vals, first) in spots.items():
            v = ", ".join(f"0x{x:02x}" for x in sorted(vals)[:4]) + (", ..." if len(vals) > 4 else "")
            print(f"  @{first:<6} {n:>4} B  {key}  = {v}")


if __name__ == "__main__":
    main()
