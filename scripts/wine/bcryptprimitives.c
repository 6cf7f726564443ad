/*
 * A stand-in bcryptprimitives.dll for Wine 8.0, which has none: Go 1.22
 * and later get their random numbers from its ProcessPrng at start-up, and
 * a windows test binary dies in runtime.osinit without it. This one fills
 * the buffer from RtlGenRandom (advapi32's SystemFunction036), which Wine
 * has. Built and installed into a Wine prefix by scripts/wine/prefix.sh.
 */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n)) {
			return FALSE;
		}
		data += n;
		len -= n;
	}
	return TRUE;
}
