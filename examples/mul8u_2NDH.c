/***
* An example 8x8 unsigned approximate multiplier for `approxdse multipliers import`,
* written for approxdse in the style of EvoApproxLib's C models (it is not
* EvoApproxLib's mul8u_2NDH circuit; EvoApproxLib's files are not shipped here).
* The circuit: an exact array multiplier whose partial-product bits of weight
* below 2^4 (i + j < 4 for bit i of a and bit j of b) are left out: the same
* products as approxdse's built-in broken-array multiplier u8_bam_h0_v4.
* Header figures in EvoApproxLib's format: power and area are approxdse's cost-model
* estimates for u8_bam_h0_v4 (calibrated on EvoApproxLib's 45 nm circuits), not a
* synthesis result; no delay is given.
***/
// PDK45_PWR = 0.348 mW
// PDK45_AREA = 612.7 um2
#include <stdint.h>
#include <stdlib.h>

uint16_t mul8u_2NDH(uint8_t a, uint8_t b)
{
   uint16_t sum = 0;
   for (int i = 0; i < 8; i++) {
      for (int j = 0; j < 8; j++) {
         if (i + j < 4)
            continue;
         uint16_t bit = ((a >> i) & 1u) & ((b >> j) & 1u);
         sum += (uint16_t)(bit << (i + j));
      }
   }
   return sum;
}
