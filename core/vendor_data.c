#include "core/vendor_data.h"

bool lm_vendor_data_valid(const char *text, size_t len)
{
	if (len > LM_WIRE_VENDOR_DATA_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch < 0x20 || ch > 0x7e)
			return false;
	}
	return true;
}
