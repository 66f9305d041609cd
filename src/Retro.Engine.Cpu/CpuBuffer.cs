using System.Runtime.InteropServices;

namespace Retro.Engine.Cpu;

/// <summary>Host memory from <see cref="NativeMemory.AlignedAlloc"/>, 64-byte aligned.</summary>
internal sealed unsafe class CpuBuffer : BackendBuffer
{
    public CpuBuffer(IBackend backend, long byteLength)
        : base(backend, (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(byteLength, 1), 64), byteLength)
    {
    }

    protected override void Free(nint data) => NativeMemory.AlignedFree((void*)data);
}
