import { TCP_KIND } from '../helpers/stream-kinds';
import { streamTransportCompliance } from './stream-compliance';

streamTransportCompliance(TCP_KIND);
