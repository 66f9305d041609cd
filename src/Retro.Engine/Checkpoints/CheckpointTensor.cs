using System.Runtime.InteropServices;

namespace Retro.Engine.Checkpoints;

/// <summary>
/// One tensor of an open <see cref="SafetensorsFile"/>: name, dtype, shape and its bytes in the memory-mapped file.
/// Valid while the file is open.
/// </summary>
public sealed unsafe class CheckpointTensor
{
    private readonly int[] _shape;

    internal CheckpointTensor(SafetensorsFile file, string name, DType type, int[] shape, long byteOffset, long byteLength)
    {
        File = file;
        Name = name;
        Type = type;
        _shape = shape;
        ByteOffset = byteOffset;
        ByteLength = byteLength;
    }

    /// <summary>The file holding the tensor.</summary>
    public SafetensorsFile File { get; }

    /// <summary>Name as stored in the header.</summary>
    public string Name { get; }

    /// <summary>Element type as stored.</summary>
    public DType Type { get; }

    /// <summary>Dimensions, outermost first (empty for a scalar).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Offset of the first byte from the start of the file.</summary>
    public long ByteOffset { get; }

    /// <summary>Size in bytes (element count × element size).</summary>
    public long ByteLength { get; }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => ByteLength / DTypes.SizeOf(Type);

    /// <summary>Product of all dimensions but the innermost (1 for vectors and scalars).</summary>
    public int Rows => _shape.Length <= 1 ? 1 : checked((int)(ElementCount / _shape[^1]));

    /// <summary>The innermost dimension (1 for a scalar).</summary>
    public int Columns => _shape.Length == 0 ? 1 : _shape[^1];

    /// <summary>Host address of the first byte in the mapping.</summary>
    public nint Address => File.BaseAddress + (nint)ByteOffset;

    /// <summary>True when the shape equals <paramref name="expected"/>.</summary>
    public bool HasShape(ReadOnlySpan<int> expected) => expected.SequenceEqual(_shape);

    /// <summary>The shape as text, e.g. <c>(384, 1536)</c>.</summary>
    public string ShapeText => $"({string.Join(", ", _shape)})";

    /// <summary>The raw bytes (little-endian) in the mapping.</summary>
    public ReadOnlySpan<byte> Bytes => ByteLength > int.MaxValue
        ? throw new NotSupportedException($"tensor '{Name}' is larger than 2 GiB; use Address")
        : new ReadOnlySpan<byte>((void*)Address, (int)ByteLength);

    /// <summary>The elements as <typeparamref name="T"/>; T's size must equal the dtype's size.</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        if (sizeof(T) != DTypes.SizeOf(Type))
            throw new InvalidOperationException($"tensor '{Name}' is {Type}; cannot view it as {typeof(T).Name}");
        return MemoryMarshal.Cast<byte, T>(Bytes);
    }

    /// <summary>The elements converted to float32 (F32, F16, BF16, I32, I64), in a new array.</summary>
    public float[] ToFloatArray()
    {
        var result = new float[ElementCount];
        switch (Type)
        {
            case DType.F32: AsSpan<float>().CopyTo(result); break;
            case DType.F16: { var s = AsSpan<Half>(); for (int i = 0; i < s.Length; i++) result[i] = (float)s[i]; break; }
            case DType.BF16: { var s = AsSpan<ushort>(); for (int i = 0; i < s.Length; i++) result[i] = BitConverter.Int32BitsToSingle(s[i] << 16); break; }
            case DType.I32: { var s = AsSpan<int>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
            case DType.I64: { var s = AsSpan<long>(); for (int i = 0; i < s.Length; i++) result[i] = s[i]; break; }
        }
        return result;
    }

    /// <summary>The elements converted to int32 (I32, or I64 within range), in a new array.</summary>
    public int[] ToInt32Array()
    {
        return Type switch
        {
            DType.I32 => AsSpan<int>().ToArray(),
            DType.I64 => ConvertI64(AsSpan<long>()),
            _ => throw new InvalidOperationException($"tensor '{Name}' is {Type}, not an integer tensor"),
        };

        static int[] ConvertI64(ReadOnlySpan<long> s)
        {
            var r = new int[s.Length];
            for (int i = 0; i < s.Length; i++) r[i] = checked((int)s[i]);
            return r;
        }
    }

    /// <summary>For diagnostics: <c>name BF16(384, 1536)</c>.</summary>
    public override string ToString() => $"{Name} {Type}{ShapeText}";
}
