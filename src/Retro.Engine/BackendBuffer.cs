namespace Retro.Engine;

/// <summary>
/// Memory owned by a backend (host memory on the CPU backend, device memory elsewhere), at least 64-byte aligned.
/// Dispose returns it to its backend; views (<see cref="Tensor"/>) over it must not be used afterwards.
/// </summary>
public abstract class BackendBuffer : IDisposable
{
    /// <summary>Creates a buffer record for <paramref name="backend"/>.</summary>
    protected BackendBuffer(IBackend backend, nint data, long byteLength)
    {
        Backend = backend;
        Data = data;
        ByteLength = byteLength;
    }

    /// <summary>The backend that owns this memory.</summary>
    public IBackend Backend { get; }

    /// <summary>Address of the first byte (host or device address, per backend).</summary>
    public nint Data { get; private set; }

    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>A contiguous <paramref name="rows"/> × <paramref name="columns"/> view from byte <paramref name="byteOffset"/>.</summary>
    public Tensor AsTensor(DType type, int rows, int columns, long byteOffset = 0)
    {
        ObjectDisposedException.ThrowIf(Data == 0, this);
        long bytes = (long)rows * columns * DTypes.SizeOf(type);
        if (byteOffset < 0 || byteOffset + bytes > ByteLength)
            throw new ArgumentOutOfRangeException(nameof(rows), $"{type}[{rows}x{columns}] at byte {byteOffset} exceeds the buffer's {ByteLength} bytes");
        return new Tensor(Data + (nint)byteOffset, type, rows, columns, columns);
    }

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        if (Data != 0)
        {
            Free(Data);
            Data = 0;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases <paramref name="data"/> back to the backend; called once.</summary>
    protected abstract void Free(nint data);
}
