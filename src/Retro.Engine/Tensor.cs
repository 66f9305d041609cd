using System.Diagnostics;

namespace Retro.Engine;

/// <summary>
/// A rank-2 view (rows × columns, row stride in elements) of memory owned by a backend: a <see cref="BackendBuffer"/>
/// or a mapped checkpoint. A value type so that views cost no allocation; it owns nothing and must not outlive its
/// memory. Vectors are 1 × n. <see cref="Data"/> is a host address on the CPU backend, a device address elsewhere.
/// </summary>
public readonly struct Tensor
{
    /// <summary>Creates a view. Callers outside backends normally use <see cref="BackendBuffer.AsTensor"/> or <see cref="Slice"/>.</summary>
    public Tensor(nint data, DType type, int rows, int columns, int rowStride)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowStride, columns);
        Data = data;
        Type = type;
        Rows = rows;
        Columns = columns;
        RowStride = rowStride;
    }

    /// <summary>Address of element (0, 0).</summary>
    public nint Data { get; }

    /// <summary>Element type.</summary>
    public DType Type { get; }

    /// <summary>Number of rows (product of all leading dimensions).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (the innermost dimension).</summary>
    public int Columns { get; }

    /// <summary>Distance between consecutive rows, in elements; equals <see cref="Columns"/> when contiguous.</summary>
    public int RowStride { get; }

    /// <summary>True for the default value (no memory), used for optional arguments such as a missing bias.</summary>
    public bool IsEmpty => Data == 0;

    /// <summary>True when rows follow each other without gaps.</summary>
    public bool IsContiguous => RowStride == Columns || Rows <= 1;

    /// <summary>Rows × Columns.</summary>
    public long ElementCount => (long)Rows * Columns;

    /// <summary>Rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of this view.</summary>
    public Tensor Slice(int start, int count)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) outside 0..{Rows}");
        return new Tensor(Data + (nint)((long)start * RowStride * DTypes.SizeOf(Type)), Type, count, Columns, RowStride);
    }

    /// <summary>Columns [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of every row (a strided view).</summary>
    public Tensor SliceColumns(int start, int count)
    {
        if ((uint)start > (uint)Columns || (uint)count > (uint)(Columns - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"columns [{start}, {start + count}) outside 0..{Columns}");
        return new Tensor(Data + (nint)((long)start * DTypes.SizeOf(Type)), Type, Rows, count, RowStride);
    }

    /// <summary>The same contiguous elements seen as <paramref name="rows"/> × <paramref name="columns"/>.</summary>
    public Tensor Reshape(int rows, int columns)
    {
        if (!IsContiguous) throw new InvalidOperationException("only a contiguous tensor can be reshaped");
        if ((long)rows * columns != ElementCount)
            throw new ArgumentException($"cannot reshape {Rows}x{Columns} to {rows}x{columns}");
        return new Tensor(Data, Type, rows, columns, columns);
    }

    /// <summary>For diagnostics: <c>F32[rows x columns]</c>.</summary>
    public override string ToString() => $"{Type}[{Rows}x{Columns}{(IsContiguous ? "" : $", stride {RowStride}")}]";

    [Conditional("DEBUG")]
    internal void AssertType(DType type) => Debug.Assert(Type == type, $"expected {type}, got {Type}");
}
